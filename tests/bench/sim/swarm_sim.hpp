// SPDX-License-Identifier: Apache-2.0
// A whole swarm in virtual time: the real scheduler, nodes running the engine's sync loop, capped
// links.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "damselfly/scheduler/parent_set_defaults.hpp"

namespace damselfly::sim {

/// One simulated distribution: an origin, the supernode and `nodes` daemons,
/// every one behind an upload link (processor sharing, downloads uncapped as
/// in the emulated cluster). Defaults are the programs' defaults.
struct sim_config {
  std::uint32_t nodes = 5;
  std::uint64_t size = 16u << 20;
  std::uint64_t piece_size = 128u << 10;
  double node_rate = 2u << 20;      ///< bytes/s each node uploads
  double supernode_rate = 0;        ///< 0: node_rate
  double origin_rate = 0;           ///< 0: node_rate
  double latency = 50e-6;           ///< one way, seconds
  unsigned parallel = 8;            ///< pieces in flight per node (dfget --parallel)
  unsigned upload_slots = 6;        ///< concurrent uploads per daemon (the daemon's default)
  unsigned child_upload_slots = 3;  ///< of those, to parent-set children (the daemon's default)
  unsigned seed_slots = 8;          ///< concurrent uploads by the supernode per task
  unsigned per_source =
      0;  ///< pieces one node may fetch from one peer at once (0: the scheduler's default)
  unsigned origin_concurrency = 4;
  std::uint32_t max_assignments = 16;
  std::uint32_t batch_reports_from = 8;
  double decision_cost = 6.25e-6;  ///< supernode CPU per assignment, seconds
  /// The supernode's scheduling thread per sync besides its assignments,
  /// and more per sync it holds (its timer, its wakes, its second pass):
  /// tests/bench/held_asks.py measures, on that thread, with connections on
  /// a thread of their own, bodies decoded and tickets signed there: 11-13
  /// µs for a sync answered at once among 8,000 peers (8-9 among 2,000), 14-19
  /// µs for a registration, and 28-30 µs for a sync held among 8,000
  /// (docs/benchmarks.md, "Connections on threads of their own"). The
  /// worst of each; a registration is charged register_cost, not sync_cost.
  double sync_cost = 13e-6;
  double held_cost = 21e-6;
  double register_cost = 19e-6;
  double join_spread = 0;  ///< nodes start uniformly within this many seconds
  std::uint32_t kill = 0;  ///< nodes killed at kill_at (they never come back)
  double kill_at = 0;
  std::uint64_t seed = 1;
  double time_limit = 3600;  ///< virtual seconds; a run past it is reported unfinished
  /// The parent-set protocol instead of per-piece central scheduling: the
  /// supernode gives each node `parents` random other nodes at its start;
  /// nodes learn what their parents hold from their "have" notices and pick
  /// pieces themselves (scheduler::piece_picker); the supernode only injects,
  /// serving a node a piece none of its parents holds, globally rarest first.
  bool parent_sets = false;
  unsigned parents = scheduler::parent_set_defaults::parents;
};

struct sim_result {
  std::uint32_t nodes = 0;
  double t_min = 0;                    ///< Kumar-Ross bound with the supernode as one more receiver
  double mean = 0, p50 = 0, last = 0;  ///< completion times of the nodes that finished
  std::vector<double> completion;      ///< per node (killed ones: -1), from its start
  std::uint32_t finished = 0;
  std::uint64_t decisions = 0;    ///< assignments the supernode handed out
  std::uint64_t local_picks = 0;  ///< parent-set protocol: pieces nodes chose themselves
  std::uint64_t syncs = 0;
  std::uint64_t reports = 0;        ///< parent-set protocol: of the syncs, those that only report
  std::uint64_t held = 0;           ///< syncs the supernode held (a long poll)
  std::uint64_t control_bytes = 0;  ///< sync requests and answers, HTTP heads included
  std::uint64_t supernode_control_bytes = 0;  ///< of those, sent by the supernode
  std::uint64_t supernode_piece_bytes = 0;
  std::uint64_t origin_bytes = 0;
  double supernode_cpu = 0;   ///< virtual CPU seconds the cost model charged
  double scheduler_wall = 0;  ///< real seconds spent in the scheduler library
  double end = 0;             ///< virtual time of the last completion
  std::uint64_t events = 0;
};

sim_result run_swarm(const sim_config& cfg);

}  // namespace damselfly::sim
