// SPDX-License-Identifier: Apache-2.0
// When the supernode hands out parent sets by default: shared by its configuration and the
// simulator.
#pragma once

#include <cstddef>

namespace damselfly::scheduler {

/// The supernode's defaults for the parent-set protocol (supernode_config;
/// swarm_sim --protocol auto models the same rule).
struct parent_set_defaults {
  /// Parents per peer: 8 were measured ahead of 4, 6 and 16 in the emulated
  /// cluster and the simulator (docs/benchmarks.md).
  static constexpr unsigned parents = 8;
  /// Registered peers from which a task's peers get parent sets: central
  /// scheduling decides every piece, which a swarm of thousands outgrows
  /// (one core at about 1,000 peers of a 10 Gbit/s swarm), while below this
  /// its decisions are cheap and it is the longer-tested path.
  static constexpr std::size_t from_peers = 64;
};

}  // namespace damselfly::scheduler
