// SPDX-License-Identifier: Apache-2.0
// When the supernode hands out parent sets by default: shared by its configuration and the
// simulator.
#pragma once

#include <cstddef>

namespace damselfly::scheduler {

/// The supernode's defaults for the parent-set protocol (supernode_config;
/// swarm_sim --protocol auto models the same rule).
struct parent_set_defaults {
  /// Parents per peer: in the simulator 8 were ahead of 4 and 6 at 40
  /// nodes, in the emulated cluster ahead of 16 at 20 nodes; at 10,000
  /// simulated nodes 16 gain about 1% (docs/benchmarks.md).
  static constexpr unsigned parents = 8;
  /// Registered peers from which a task's peers get parent sets. They
  /// were ahead of central scheduling at every size measured (simulator,
  /// 5 to 10,000 nodes; emulated cluster, 20 and 40), and central scheduling
  /// decides every piece, which a swarm of thousands outgrows (one core at
  /// about 1,000 peers of a 10 Gbit/s swarm). Below this, where a peer
  /// would have most of the swarm as parents anyway, central scheduling
  /// stays: the longer-tested path, and cheap there.
  static constexpr std::size_t from_peers = 16;
};

}  // namespace damselfly::scheduler
