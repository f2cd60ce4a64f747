// SPDX-License-Identifier: Apache-2.0
// Scenario tests for the swarm: what each peer is told to fetch next.
#include <gtest/gtest.h>

#include "damselfly/scheduler/swarm.hpp"

using namespace damselfly::scheduler;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint64_t> pieces(const std::vector<decision>& ds) {
  std::vector<std::uint64_t> out;
  for (const auto& d : ds) out.push_back(d.piece);
  return out;
}

struct swarm_test : ::testing::Test {
  clock::time_point t0 = clock::time_point{} + 1000s;
  swarm s;
  void TearDown() override { s.check_invariants(); }
};

}  // namespace

TEST_F(swarm_test, NothingCachedYetMeansNothingToAssign) {
  s.join("A", t0);
  EXPECT_TRUE(s.assign("A", 8, t0).empty());
}

TEST_F(swarm_test, CutThroughPiecesAreAssignableTheMomentTheSeedHasThem) {
  // Seed has 0 and 2 of a file still being fetched; A asks: it gets 0 and 2 at once.
  s.join("A", t0);
  s.seed_has(0);
  s.seed_has(2);
  auto got = s.assign("A", 8, t0);
  EXPECT_EQ(pieces(got), (std::vector<std::uint64_t>{0, 2}));
  EXPECT_EQ(got[0].source, supernode_source);
  // Piece 1 arrives at the seed: A's next ask gets only 1.
  s.seed_has(1);
  EXPECT_EQ(pieces(s.assign("A", 8, t0)), (std::vector<std::uint64_t>{1}));
}

TEST_F(swarm_test, WantLimitsTheBatchLowestPiecesFirst) {
  for (int i = 0; i < 10; ++i) s.seed_has(i);
  s.join("A", t0);
  EXPECT_EQ(pieces(s.assign("A", 3, t0)), (std::vector<std::uint64_t>{0, 1, 2}));
  EXPECT_EQ(pieces(s.assign("A", 3, t0)), (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(s.in_flight_count("A"), 6u);
}

TEST_F(swarm_test, HeldPiecesAreNeverAssignedAgain) {
  for (int i = 0; i < 3; ++i) s.seed_has(i);
  s.join("A", t0);
  s.assign("A", 3, t0);
  for (int i = 0; i < 3; ++i) s.report("A", i, piece_outcome::ok, t0);
  EXPECT_EQ(s.held_count("A"), 3u);
  EXPECT_TRUE(s.assign("A", 8, t0).empty());
}

TEST_F(swarm_test, FailedPieceReturnsToThePool) {
  s.seed_has(0);
  s.seed_has(1);
  s.join("A", t0);
  s.assign("A", 2, t0);
  s.report("A", 0, piece_outcome::ok, t0);
  s.report("A", 1, piece_outcome::bad_digest, t0);
  EXPECT_EQ(pieces(s.assign("A", 8, t0)), (std::vector<std::uint64_t>{1}));
}

TEST_F(swarm_test, LostAssignmentsTimeOutAndReturn) {
  swarm_options o;
  o.assignment_timeout = 10s;
  s = swarm(o);
  s.seed_has(0);
  s.join("A", t0);
  ASSERT_EQ(s.assign("A", 1, t0).size(), 1u);
  EXPECT_TRUE(s.assign("A", 1, t0 + 5s).empty());
  s.expire(t0 + 11s);
  EXPECT_EQ(pieces(s.assign("A", 1, t0 + 11s)), (std::vector<std::uint64_t>{0}));
}

TEST_F(swarm_test, SilentPeersAreDropped) {
  swarm_options o;
  o.peer_timeout = 30s;
  s = swarm(o);
  s.join("A", t0);
  s.join("B", t0);
  s.assign("B", 1, t0 + 20s);  // B is alive
  s.expire(t0 + 31s);
  EXPECT_FALSE(s.has_peer("A"));
  EXPECT_TRUE(s.has_peer("B"));
  EXPECT_EQ(s.peer_count(), 1u);
}

TEST_F(swarm_test, PeersAreIndependent) {
  s.seed_has(0);
  s.join("A", t0);
  s.join("B", t0);
  EXPECT_EQ(pieces(s.assign("A", 1, t0)), (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(pieces(s.assign("B", 1, t0)), (std::vector<std::uint64_t>{0}));
  s.leave("A");
  EXPECT_FALSE(s.has_peer("A"));
  EXPECT_TRUE(s.assign("A", 1, t0).empty());  // unknown peers get nothing
}
