// SPDX-License-Identifier: Apache-2.0
// The simulator's parts: a processor-sharing link, and small swarms on the real scheduler.
#include <gtest/gtest.h>

#include <cmath>

#include "fluid_link.hpp"
#include "swarm_sim.hpp"

using namespace damselfly::sim;

TEST(FluidLink, OneTransferGetsTheWholeRate) {
  fluid_link l(1000);
  l.start(500, 0);
  EXPECT_DOUBLE_EQ(l.next_end(), 0.5);
  l.pop_ended(0.5);
  EXPECT_EQ(l.next_end(), fluid_link::never);
}

TEST(FluidLink, TransfersShareTheRateEquallyAndTheRestSpeedsUpWhenOneEnds) {
  fluid_link l(1000);
  auto small = l.start(100, 0);
  auto big = l.start(400, 0);
  // Both at 500 B/s: the small one ends at 0.2 s ...
  EXPECT_DOUBLE_EQ(l.next_end(), 0.2);
  EXPECT_EQ(l.pop_ended(0.2), small);
  // ... the big one has 300 left, alone at 1000 B/s: ends at 0.5 s.
  EXPECT_DOUBLE_EQ(l.next_end(), 0.5);
  EXPECT_EQ(l.pop_ended(0.5), big);
}

TEST(FluidLink, ALateStarterSlowsTheOthersAndACancelGivesTheRateBack) {
  fluid_link l(1000);
  auto a = l.start(1000, 0);
  auto v = l.version();
  auto b = l.start(1000, 0.5);  // a has 500 left; now both at 500 B/s
  EXPECT_NE(l.version(), v);
  EXPECT_DOUBLE_EQ(l.next_end(), 1.5);
  l.cancel(b, 1.0);  // a has 250 left, alone again
  EXPECT_DOUBLE_EQ(l.next_end(), 1.25);
  EXPECT_EQ(l.pop_ended(1.25), a);
  EXPECT_EQ(l.active(), 0u);
}

TEST(SwarmSim, FiveNodesGetTheFileTheOriginSendsItOnceAndTheBoundHolds) {
  sim_config cfg;  // 16 MiB at 2 MiB/s, 128 KiB pieces: the emulated cluster's settings
  auto r = run_swarm(cfg);
  ASSERT_EQ(r.finished, 5u);
  EXPECT_EQ(r.origin_bytes, cfg.size);
  EXPECT_DOUBLE_EQ(r.t_min, 8.0);
  // Nobody beats the bound; every piece was handed out at least once per node.
  EXPECT_GE(r.mean, r.t_min);
  EXPECT_GE(r.last, r.mean);
  EXPECT_GE(r.decisions, 5u * 128u);
  EXPECT_GT(r.control_bytes, 0u);
  // Without the supernode each node would need 5x8 s from the origin alone.
  EXPECT_LT(r.last, 2 * r.t_min);
}

TEST(SwarmSim, TheSameSeedGivesTheSameRun) {
  sim_config cfg;
  cfg.nodes = 8;
  auto a = run_swarm(cfg);
  auto b = run_swarm(cfg);
  EXPECT_EQ(a.completion, b.completion);
  EXPECT_EQ(a.decisions, b.decisions);
}

TEST(SwarmSim, NodesKilledMidwayCostTheOthersNothingButTime) {
  sim_config cfg;
  cfg.nodes = 10;
  cfg.kill = 3;
  cfg.kill_at = 4.0;  // half of T_min
  auto r = run_swarm(cfg);
  EXPECT_EQ(r.finished, 7u);
  std::size_t dead = 0;
  for (double t : r.completion) dead += t < 0;
  EXPECT_EQ(dead, 3u);
}

TEST(SwarmSim, ASlowSupernodeCpuShowsAsTime) {
  // The same swarm with each assignment costing the supernode 20 ms: it
  // cannot hand pieces out as fast as the links move them.
  sim_config fast, slow;
  fast.nodes = slow.nodes = 10;
  slow.decision_cost = 0.02;
  auto f = run_swarm(fast);
  auto s = run_swarm(slow);
  ASSERT_EQ(s.finished, 10u);
  EXPECT_GT(s.mean, 1.5 * f.mean);
  EXPECT_GT(s.supernode_cpu / s.end, 0.9);  // one core, busy almost all the time
}

TEST(SwarmSim, WithParentSetsNodesPickTheirPiecesAndTheSupernodeOnlyInjects) {
  sim_config cfg;
  cfg.nodes = 20;
  cfg.parent_sets = true;
  cfg.parents = 8;
  auto r = run_swarm(cfg);
  ASSERT_EQ(r.finished, 20u);
  EXPECT_EQ(r.origin_bytes, cfg.size);
  EXPECT_GE(r.mean, r.t_min);
  EXPECT_LT(r.last, 2 * r.t_min);
  // Every node got all 128 pieces; the supernode decided each piece once,
  // to inject it, and sent it once (its link is the bound: a second copy
  // from it would delay every fresh piece behind it); the nodes decided all
  // the rest.
  EXPECT_EQ(r.decisions, 128u);
  EXPECT_EQ(r.supernode_piece_bytes, cfg.size);
  EXPECT_EQ(r.decisions + r.local_picks, 20u * 128u);
  // The same seed, the same run.
  auto again = run_swarm(cfg);
  EXPECT_EQ(again.completion, r.completion);
}

TEST(SwarmSim, WithParentSetsANodeReportsABatchAtMostOnceASecond) {
  // 20 nodes, 1,024 pieces of 16 KiB, about 8 s: a node finishes a piece
  // from its parents every few milliseconds. Each report is a sync on the
  // supernode's one core; at 16 pieces a report 10,000 such nodes sent it
  // 180,000 syncs a second. A node reports its batch at most once a second,
  // and at once only a piece from the supernode (that frees its slot) and
  // its last piece.
  sim_config cfg;
  cfg.nodes = 20;
  cfg.parent_sets = true;
  cfg.parents = 8;
  cfg.piece_size = 16 * 1024;
  auto r = run_swarm(cfg);
  ASSERT_EQ(r.finished, 20u);
  const auto pieces = cfg.size / cfg.piece_size;
  EXPECT_EQ(r.decisions, pieces);  // each injected once: each reported at once
  const auto seconds = static_cast<std::uint64_t>(std::ceil(r.end));
  EXPECT_GE(r.reports, cfg.nodes) << "every node reports at least its last pieces";
  EXPECT_LE(r.reports, r.decisions + cfg.nodes * (seconds + 1))
      << "a report every 16 pieces would be about " << r.decisions + cfg.nodes * pieces / 16;
}
