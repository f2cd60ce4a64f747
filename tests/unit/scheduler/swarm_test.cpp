// SPDX-License-Identifier: Apache-2.0
// Scenario tests for the swarm: what each peer is told to fetch next, and from whom.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "damselfly/scheduler/swarm.hpp"

using namespace damselfly::scheduler;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint64_t> pieces(const std::vector<decision>& ds) {
  std::vector<std::uint64_t> out;
  for (const auto& d : ds) out.push_back(d.piece);
  return out;
}

/// "1110" -> {true, true, true, false}
std::vector<bool> bits(const std::string& s) {
  std::vector<bool> v;
  for (char c : s) v.push_back(c == '1');
  return v;
}

peer_info at(const std::string& addr, const std::string& idc = "", const std::string& loc = "",
             unsigned slots = 4) {
  return {addr, idc, loc, slots, ""};
}

struct swarm_test : ::testing::Test {
  clock::time_point t0 = clock::time_point{} + 1000s;
  swarm s{swarm_options{}, 42};
  void seed_all(std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) s.seed_has(i);
    s.set_piece_count(n);
  }
  void TearDown() override { s.check_invariants(); }
  /// The one piece `peer` is sent when it asks for one, which must come from the seed.
  std::uint64_t one_from_seed(const std::string& peer) {
    auto d = s.assign(peer, 1, t0);
    if (d.size() != 1 || d[0].source != supernode_source) {
      ADD_FAILURE() << peer << " was not sent exactly one piece from the seed";
      return ~std::uint64_t{0};
    }
    return d[0].piece;
  }
};

}  // namespace

TEST_F(swarm_test, NothingCachedYetMeansNothingToAssign) {
  s.join("A", at("a:1"), {}, t0);
  EXPECT_TRUE(s.assign("A", 8, t0).empty());
}

TEST_F(swarm_test, CutThroughPiecesAreAssignableTheMomentTheSeedHasThem) {
  // The supernode has cached 0 and 2 of a file still arriving: A gets both at once.
  s.join("A", at("a:1"), {}, t0);
  s.seed_has(0);
  s.seed_has(2);
  auto got = s.assign("A", 8, t0);
  auto ps = pieces(got);
  std::sort(ps.begin(), ps.end());
  EXPECT_EQ(ps, (std::vector<std::uint64_t>{0, 2}));
  EXPECT_EQ(got[0].source, supernode_source);
  s.seed_has(1);
  EXPECT_EQ(pieces(s.assign("A", 8, t0)), (std::vector<std::uint64_t>{1}));
}

TEST_F(swarm_test, PeerHoldingsAreAssignableTheMomentTheyAreReported) {
  // B reports piece 5 done: A fetches 5 from B at once, sparing the supernode.
  s.seed_has(5);
  s.join("A", at("a:1"), {}, t0);
  s.join("B", at("b:1"), {}, t0);
  s.report("B", 5, piece_outcome::ok, supernode_source, t0);
  EXPECT_EQ(s.assign("A", 8, t0), (std::vector<decision>{{5, "b:1"}}));
}

TEST_F(swarm_test, PiecesTheSeedHasNotVerifiedAreNotAssigned) {
  // After a supernode restart B says it holds 0-1, but only 0 is cached again:
  // 1 has no digest to check yet, so only 0 is handed out.
  s.seed_has(0);
  s.join("B", at("b:1"), bits("11"), t0);
  s.join("A", at("a:1"), {}, t0);
  EXPECT_EQ(s.assign("A", 8, t0), (std::vector<decision>{{0, "b:1"}}));
}

TEST_F(swarm_test, ScenarioSuccessorWithTheOwnersDigestsSchedulesPeersItsOwnCacheLacks) {
  // The owner died; its successor knows every digest from the replica but
  // holds no data. A has 1100, B has 0011, C asks: 0-1 from A, 2-3 from B,
  // nothing from the supernode, which has nothing to serve.
  for (std::uint64_t i = 0; i < 4; ++i) s.digest_known(i);
  s.set_piece_count(4);
  s.join("A", at("a:1"), bits("1100"), t0);
  s.join("B", at("b:1"), bits("0011"), t0);
  s.join("C", at("c:1"), {}, t0);
  auto got = s.assign("C", 8, t0);
  std::sort(got.begin(), got.end(),
            [](const decision& x, const decision& y) { return x.piece < y.piece; });
  EXPECT_EQ(got, (std::vector<decision>{{0, "a:1"}, {1, "a:1"}, {2, "b:1"}, {3, "b:1"}}));
}

TEST_F(swarm_test, ScenarioAKnownDigestNobodyHoldsWaitsForTheSeed) {
  // Piece 2's digest is known but no peer holds it and the cache lacks it:
  // nothing to assign until the supernode has fetched it from the origin.
  for (std::uint64_t i = 0; i < 3; ++i) s.digest_known(i);
  s.set_piece_count(3);
  s.join("A", at("a:1"), bits("110"), t0);
  s.join("C", at("c:1"), bits("110"), t0);
  EXPECT_TRUE(s.assign("C", 8, t0).empty());
  s.seed_has(2);
  EXPECT_EQ(s.assign("C", 8, t0), (std::vector<decision>{{2, supernode_source}}));
}

TEST_F(swarm_test, ScenarioASuccessorCountsThePiecesItsPeersAnnounced) {
  // After a takeover the successor waits until its peers have announced as
  // many pieces as the owner's held: C, new and empty-handed, adds nothing;
  // the seeder A with 4 pieces is what it waits for.
  seed_all(4);
  s.join("C", at("c:1"), {}, t0);
  EXPECT_EQ(s.held_total(), 0u);
  s.join("A", at("a:1"), bits("1111"), t0);
  EXPECT_EQ(s.held_total(), 4u);
  auto got = s.assign("C", 2, t0);
  ASSERT_EQ(got.size(), 2u);
  s.report("C", got[0].piece, piece_outcome::ok, got[0].source, t0);
  s.report("C", got[1].piece, piece_outcome::ok, got[1].source, t0);
  EXPECT_EQ(s.held_total(), 6u);
  s.leave("A");
  EXPECT_EQ(s.held_total(), 2u);
  s.check_invariants();
}

TEST_F(swarm_test, ScenarioRarestPieceFromTheOnlyHolder) {
  // A has 1110, B has 0111, C asks for one piece: piece 3 is the rarest it can
  // get from a peer (only B has it; 1 and 2 have two holders), so 3 from B.
  seed_all(4);
  s.join("A", at("a:1"), bits("1110"), t0);
  s.join("B", at("b:1"), bits("0111"), t0);
  s.join("C", at("c:1"), {}, t0);
  auto got = s.assign("C", 1, t0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0] == (decision{3, "b:1"}) || got[0] == (decision{0, "a:1"})) << got[0].piece;
  // Both 0 and 3 have a single holder; over many seeds both are chosen.
  std::set<std::uint64_t> firsts;
  for (std::uint64_t seed = 1; seed < 40; ++seed) {
    swarm t(swarm_options{}, seed);
    for (int i = 0; i < 4; ++i) t.seed_has(i);
    t.join("A", at("a:1"), bits("1110"), t0);
    t.join("B", at("b:1"), bits("0111"), t0);
    t.join("C", at("c:1"), {}, t0);
    firsts.insert(t.assign("C", 1, t0).at(0).piece);
  }
  EXPECT_EQ(firsts, (std::set<std::uint64_t>{0, 3}));
}

TEST_F(swarm_test, SupernodeServesOnlyWhatNoPeerCan) {
  seed_all(4);
  s.join("A", at("a:1"), bits("1100"), t0);
  s.join("C", at("c:1"), {}, t0);
  for (const auto& d : s.assign("C", 4, t0)) {
    if (d.piece < 2)
      EXPECT_EQ(d.source, "a:1") << d.piece;
    else
      EXPECT_EQ(d.source, supernode_source) << d.piece;
  }
}

TEST_F(swarm_test, LeastLoadedHolderIsChosen) {
  seed_all(1);
  s.join("A", at("a:1"), bits("1"), t0);
  s.join("B", at("b:1"), bits("1"), t0);
  s.join("X", at("x:1"), {}, t0);
  s.join("Y", at("y:1"), {}, t0);
  auto first = s.assign("X", 1, t0).at(0).source;
  auto second = s.assign("Y", 1, t0).at(0).source;
  EXPECT_NE(first, second);  // the second asker goes to the idle holder
  EXPECT_EQ(s.upload_load("a:1"), 1u);
  EXPECT_EQ(s.upload_load("b:1"), 1u);
}

TEST_F(swarm_test, FullHoldersAreSkippedAndTheSeedHasItsOwnCap) {
  swarm_options o;
  o.seed_slots = 1;
  s = swarm(o, 7);
  seed_all(1);
  s.join("A", at("a:1", "", "", 1), bits("1"), t0);
  s.join("X", at("x:1"), {}, t0);
  s.join("Y", at("y:1"), {}, t0);
  s.join("Z", at("z:1"), {}, t0);
  EXPECT_EQ(s.assign("X", 1, t0).at(0).source, "a:1");             // A's one slot
  EXPECT_EQ(s.assign("Y", 1, t0).at(0).source, supernode_source);  // the seed's one slot
  EXPECT_TRUE(s.assign("Z", 1, t0).empty());                       // nobody free: wait
  s.report("X", 0, piece_outcome::ok, "a:1", t0);                  // A is free again, X holds 0
  EXPECT_FALSE(s.assign("Z", 1, t0).empty());
}

TEST_F(swarm_test, FetchesSpreadAcrossSources) {
  // A and B hold everything, with plenty of slots; C asks for 4 pieces:
  // at most 2 in flight from either, so one bad source spoils at most 2.
  seed_all(8);
  s.join("A", at("a:1", "", "", 16), bits("11111111"), t0);
  s.join("B", at("b:1", "", "", 16), bits("11111111"), t0);
  s.join("C", at("c:1"), {}, t0);
  auto got = s.assign("C", 4, t0);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(
      std::count_if(got.begin(), got.end(), [](const decision& d) { return d.source == "a:1"; }),
      2);
  EXPECT_EQ(
      std::count_if(got.begin(), got.end(), [](const decision& d) { return d.source == "b:1"; }),
      2);
  // Asking again while those are in flight: the seed, not a third from A or B.
  for (const auto& d : s.assign("C", 2, t0)) EXPECT_EQ(d.source, supernode_source);
}

TEST_F(swarm_test, SameIdcThenCloserLocationIsPreferred) {
  seed_all(1);
  s.join("far", at("far:1", "idc2", "cn|sh|r1"), bits("1"), t0);
  s.join("near", at("near:1", "idc1", "cn|bj|r2"), bits("1"), t0);
  s.join("nearer", at("nearer:1", "idc1", "cn|bj|r1"), bits("1"), t0);
  s.join("asker", at("asker:1", "idc1", "cn|bj|r1"), {}, t0);
  EXPECT_EQ(s.assign("asker", 1, t0).at(0).source, "nearer:1");
  s.join("asker2", at("asker2:1", "idc2", "cn|sh|r9"), {}, t0);
  EXPECT_EQ(s.assign("asker2", 1, t0).at(0).source, "far:1");
}

TEST_F(swarm_test, BadDigestAvoidsThatSourceForTheAskerAndCountsAgainstIt) {
  swarm_options o;
  o.bad_source_limit = 2;
  s = swarm(o, 3);
  seed_all(2);
  s.join("evil", at("evil:1"), bits("11"), t0);
  s.join("A", at("a:1"), {}, t0);
  s.join("B", at("b:1"), {}, t0);
  auto a = s.assign("A", 1, t0).at(0);
  ASSERT_EQ(a.source, "evil:1");
  s.report("A", a.piece, piece_outcome::bad_digest, "evil:1", t0);
  // A never gets evil again; the seed serves it.
  for (const auto& d : s.assign("A", 2, t0)) EXPECT_EQ(d.source, supernode_source);
  EXPECT_FALSE(s.is_bad("evil:1"));
  auto b = s.assign("B", 1, t0).at(0);
  ASSERT_EQ(b.source, "evil:1");  // one strike is not enough to warn others
  s.report("B", b.piece, piece_outcome::bad_digest, "evil:1", t0);
  EXPECT_TRUE(s.is_bad("evil:1"));
  s.join("C", at("c:1"), {}, t0);
  for (const auto& d : s.assign("C", 2, t0)) EXPECT_NE(d.source, "evil:1");
}

TEST_F(swarm_test, DeadHostsHoldingsVanish) {
  swarm_options o;
  o.seed_slots = 0;  // a seed with no slots left: only peers can serve
  s = swarm(o, 11);
  seed_all(2);
  s.join("A", at("a:1"), bits("11"), t0);
  s.join("C", at("c:1"), {}, t0);
  EXPECT_EQ(s.availability(0), 1u);
  auto d = s.assign("C", 1, t0);
  ASSERT_EQ(d.size(), 1u);
  s.leave("A");
  EXPECT_EQ(s.availability(0), 0u);
  EXPECT_EQ(s.availability(1), 0u);
  EXPECT_TRUE(s.assign("C", 2, t0).empty());  // nobody holds anything now
  s.report("C", d[0].piece, piece_outcome::unreachable, "a:1", t0);
  EXPECT_EQ(s.in_flight_count("C"), 0u);
}

TEST_F(swarm_test, ScenarioAfterATakeoverBusyHoldersAreTriedAgainNotAvoidedForGood) {
  // A successor's seed holds nothing of piece 0: only A and B do. C's first
  // requests found both busy (503) and it reported them unreachable. For a
  // while C is not sent there; after avoid_for it is, or C would wait for
  // ever for a piece nobody else will ever have.
  s.digest_known(0);
  s.set_piece_count(1);
  s.join("A", at("a:1"), bits("1"), t0);
  s.join("B", at("b:1"), bits("1"), t0);
  s.join("C", at("c:1"), {}, t0);
  for (int round = 0; round < 2; ++round) {
    auto d = s.assign("C", 1, t0);
    ASSERT_EQ(d.size(), 1u);
    s.report("C", 0, piece_outcome::unreachable, d[0].source, t0);
  }
  EXPECT_TRUE(s.assign("C", 1, t0 + 29s).empty()) << "both holders failed C just now";
  s.expire(t0 + 31s);
  auto again = s.assign("C", 1, t0 + 31s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].source == "a:1" || again[0].source == "b:1");
}

TEST_F(swarm_test, AttackASourceThatSentABadPieceIsAvoidedForGoodByItsVictim) {
  s.digest_known(0);
  s.digest_known(1);
  s.set_piece_count(2);
  s.join("A", at("a:1"), bits("11"), t0);
  s.join("C", at("c:1"), {}, t0);
  auto d = s.assign("C", 1, t0);
  ASSERT_EQ(d.size(), 1u);
  ASSERT_EQ(d[0].source, "a:1");
  s.report("C", d[0].piece, piece_outcome::bad_digest, "a:1", t0);
  s.touch("A", t0 + 1h);
  s.touch("C", t0 + 1h);
  s.expire(t0 + 1h);
  ASSERT_TRUE(s.has_peer("A") && s.has_peer("C"));
  EXPECT_TRUE(s.assign("C", 2, t0 + 1h).empty()) << "an hour later A is still not C's source";
  // Another peer, never fed a bad piece, is sent to A.
  s.join("D", at("d:1"), {}, t0 + 1h);
  EXPECT_EQ(s.assign("D", 1, t0 + 1h).size(), 1u);
}

TEST_F(swarm_test, SilentPeersAreDroppedAndLostAssignmentsReturn) {
  swarm_options o;
  o.peer_timeout = 30s;
  o.assignment_timeout = 10s;
  s = swarm(o, 5);
  seed_all(1);
  s.join("A", at("a:1"), bits("1"), t0);
  s.join("B", at("b:1"), {}, t0);
  ASSERT_EQ(s.assign("B", 1, t0).size(), 1u);
  s.touch("B", t0 + 25s);
  s.expire(t0 + 31s);
  EXPECT_FALSE(s.has_peer("A"));  // silent for 31 s
  EXPECT_TRUE(s.has_peer("B"));
  EXPECT_EQ(s.in_flight_count("B"), 0u);  // its assignment timed out
  EXPECT_EQ(s.assign("B", 1, t0 + 31s).at(0).source, supernode_source);
}

TEST_F(swarm_test, EndgameAsksASecondSourceForTheLastPieces) {
  seed_all(3);
  s.join("A", at("a:1"), bits("111"), t0);
  s.join("C", at("c:1"), bits("110"), t0);
  auto first = s.assign("C", 1, t0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].piece, 2u);
  // The only missing piece is in flight: the next ask duplicates it elsewhere.
  auto dup = s.assign("C", 1, t0);
  ASSERT_EQ(dup.size(), 1u);
  EXPECT_EQ(dup[0].piece, 2u);
  EXPECT_NE(dup[0].source, first[0].source);
  // The first to arrive wins; the other copy stops counting against its source.
  s.report("C", 2, piece_outcome::ok, dup[0].source, t0);
  EXPECT_EQ(s.in_flight_count("C"), 0u);
  EXPECT_EQ(s.seed_load(), 0u);
  EXPECT_EQ(s.upload_load("a:1"), 0u);
}

TEST_F(swarm_test, RejoiningPeerKeepsAndAddsHoldings) {
  s.join("A", at("a:1"), bits("100"), t0);
  s.join("A", at("a:2"), bits("011"), t0);  // restarted on another port, holding more
  EXPECT_EQ(s.held_count("A"), 3u);
  EXPECT_EQ(s.peer_count(), 1u);
  s.join("C", at("c:1"), {}, t0);
  for (const auto& d : s.assign("C", 3, t0)) EXPECT_EQ(d.source, "a:2");
}

TEST_F(swarm_test, ManyPeersStayConsistent) {
  // A randomized run with joins, failures and departures, checked against the invariants.
  seed_all(64);
  std::mt19937_64 rng(9);
  for (int round = 0; round < 300; ++round) {
    auto now = t0 + std::chrono::seconds(round);
    std::string id = "p" + std::to_string(rng() % 20);
    std::string addr = id + ":1";
    switch (rng() % 5) {
      case 0:
        s.join(id, at(addr), {}, now);
        break;
      case 1:
        s.leave(id);
        break;
      default:
        for (const auto& d : s.assign(id, 4, now)) {
          auto outcome = (rng() % 4 == 0) ? piece_outcome::unreachable : piece_outcome::ok;
          s.report(id, d.piece, outcome, d.source, now);
        }
    }
    s.check_invariants();
  }
  s.expire(t0 + 10000s);
  EXPECT_EQ(s.peer_count(), 0u);
}

TEST_F(swarm_test, TheSeedInjectsEachNewPieceOnceAndPeersSpreadIt) {
  // The supernode has cached 0 and 1 of a 4-piece file still arriving. A, B and
  // C ask at once: A and B get the two new pieces from the seed, C gets
  // nothing rather than a second copy of either from the seed.
  s.set_piece_count(4);
  s.seed_has(0);
  s.seed_has(1);
  for (const char* p : {"A", "B", "C"}) s.join(p, at(std::string(p) + ":1"), {}, t0);
  const auto a = one_from_seed("A");
  const auto b = one_from_seed("B");
  EXPECT_NE(a, b);
  EXPECT_TRUE(s.assign("C", 4, t0).empty());
  // A has its piece: C takes it from A, not from the seed.
  s.report("A", a, piece_outcome::ok, supernode_source, t0);
  EXPECT_EQ(s.assign("C", 1, t0), (std::vector<decision>{{a, "A:1"}}));
  // Piece 2 arrives at the seed: the next asker injects it.
  s.seed_has(2);
  EXPECT_EQ(s.assign("A", 4, t0), (std::vector<decision>{{2, supernode_source}}));
}

TEST_F(swarm_test, WithTheWholeFileCachedTheSeedsSpareUploadServesCopies) {
  // Nothing is left to inject (A holds 0, B is fetching 1 from the seed), so
  // the seed may serve C a copy instead of idling.
  seed_all(2);
  s.join("A", at("a:1", "", "", 1), bits("10"), t0);
  s.join("B", at("b:1"), {}, t0);
  s.join("C", at("c:1"), {}, t0);
  s.join("D", at("d:1"), {}, t0);
  ASSERT_EQ(s.assign("B", 1, t0), (std::vector<decision>{{1, supernode_source}}));
  EXPECT_EQ(s.assign("D", 1, t0), (std::vector<decision>{{0, "a:1"}}));  // A's one slot
  auto c = s.assign("C", 2, t0);
  ASSERT_EQ(c.size(), 2u);
  for (const auto& d : c) EXPECT_EQ(d.source, supernode_source);
}

TEST_F(swarm_test, AnAskerThatAvoidsEveryHolderStillGetsThePieceFromTheSeed) {
  // The file is still arriving (piece 1 not cached). B sent A a bad copy of 0;
  // B is the only other holder, so the seed serves A rather than never.
  s.set_piece_count(2);
  s.seed_has(0);
  s.join("A", at("a:1"), {}, t0);
  s.join("B", at("b:1"), bits("1"), t0);
  ASSERT_EQ(s.assign("A", 1, t0), (std::vector<decision>{{0, "b:1"}}));
  s.report("A", 0, piece_outcome::bad_digest, "b:1", t0);
  EXPECT_EQ(s.assign("A", 1, t0), (std::vector<decision>{{0, supernode_source}}));
}

TEST_F(swarm_test, AttackReportOfAPieceThatDoesNotExistIsIgnored) {
  // The seed has pieces 0-3. A reports 2^64-1 and 33554432 as done: the
  // swarm ignores both (no wrap, no tables sized by a number from the network).
  for (std::uint64_t i = 0; i < 4; ++i) s.seed_has(i);
  s.join("A", at("a:1"), {}, t0);
  s.join("B", at("b:1"), {}, t0);
  s.report("A", UINT64_MAX, piece_outcome::ok, supernode_source, t0);
  s.report("A", 33554432, piece_outcome::ok, supernode_source, t0);
  s.check_invariants();
  // Only real pieces are ever assigned, and B is not sent to A for them.
  auto got = s.assign("B", 8, t0);
  for (const auto& d : got) {
    EXPECT_LT(d.piece, 4u);
    EXPECT_EQ(d.source, supernode_source);
  }
}

TEST_F(swarm_test, PeerRegisteringAgainWithPiecesItWasFetchingHoldsThemAndNothingIsInFlight) {
  // Found by fuzz_swarm: A is fetching 0 and 1 from the seed when it registers
  // again (its daemon restarted) saying it holds 0-1. The fetches are over, the
  // seed's slots are free again, and 0-1 are A's to serve.
  s.seed_has(0);
  s.seed_has(1);
  s.join("A", at("a:1"), {}, t0);
  EXPECT_EQ(pieces(s.assign("A", 8, t0)).size(), 2u);
  s.join("A", at("a:1"), {true, true}, t0);
  s.check_invariants();
  s.join("B", at("b:1"), {}, t0);
  for (const auto& d : s.assign("B", 8, t0)) EXPECT_EQ(d.source, "a:1") << d.piece;
}

// Attacks on the scheduler by registered peers, written as the attack.

TEST_F(swarm_test, AttackSevenPeerIdsAtOneBogusAddressAreOneSourceAndOneFailureRetiresIt) {
  // Seven fakes at "bogus:1" claim every piece. A asks for 4: they are one
  // source (per-source limit 2 applies once, not seven times) ...
  seed_all(4);
  for (int i = 0; i < 7; ++i)
    s.join("fake" + std::to_string(i), at("bogus:1", "", "", 4), bits("1111"), t0);
  s.join("A", at("a:1"), {}, t0);
  auto first = s.assign("A", 4, t0);
  unsigned from_bogus = 0;
  for (const auto& d : first) from_bogus += d.source == "bogus:1";
  EXPECT_LE(from_bogus, 2u);
  // ... and once A reports it unreachable, neither those ids nor an eighth
  // registered at the same address are sent to A again.
  for (const auto& d : first)
    if (d.source == "bogus:1") s.report("A", d.piece, piece_outcome::unreachable, "bogus:1", t0);
  s.join("fake7", at("bogus:1", "", "", 4), bits("1111"), t0);
  for (const auto& d : s.assign("A", 4, t0)) EXPECT_NE(d.source, "bogus:1");
}

TEST_F(swarm_test, AttackBadDigestReportsAgainstASourceTheReporterWasNotSentToCountForNothing) {
  // Three liars report bad copies of pieces from "honest:1" that the
  // supernode never assigned them from there: honest stays a source for C.
  swarm_options o;
  o.bad_source_limit = 2;
  s = swarm(o, 5);
  seed_all(2);
  s.join("honest", at("honest:1"), bits("11"), t0);
  for (const char* liar : {"L1", "L2", "L3"}) {
    s.join(liar, at(std::string(liar) + ":1"), {}, t0);
    s.report(liar, 0, piece_outcome::bad_digest, "honest:1", t0);
    s.report(liar, 1, piece_outcome::bad_digest, "honest:1", t0);
  }
  EXPECT_FALSE(s.is_bad("honest:1"));
  s.join("C", at("c:1"), {}, t0);
  auto c = s.assign("C", 1, t0);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].source, "honest:1");
}

TEST_F(swarm_test, AttackManyPeerIdsOfOneHostAreOneWitnessAgainstASource) {
  // R1 and R2 register from host 10.0.0.9, each is sent to "target:1" and
  // says the copy was bad. With a limit of two witnesses that is one: the
  // target stays a source for others. A second host's word makes two.
  swarm_options o;
  o.bad_source_limit = 2;
  o.seed_slots = 0;  // only peers serve: every assignment is from target
  s = swarm(o, 9);
  seed_all(2);
  s.join("target", at("target:1"), bits("11"), t0);
  auto from = [](const char* addr, const char* host) {
    peer_info i{addr, "", "", 4, host};
    return i;
  };
  for (const char* r : {"R1", "R2"}) {
    s.join(r, from((std::string(r) + ":1").c_str(), "10.0.0.9"), {}, t0);
    auto d = s.assign(r, 1, t0);
    ASSERT_EQ(d.size(), 1u);
    ASSERT_EQ(d[0].source, "target:1");
    s.report(r, d[0].piece, piece_outcome::bad_digest, "target:1", t0);
  }
  EXPECT_FALSE(s.is_bad("target:1"));
  s.join("R3", from("r3:1", "10.0.0.10"), {}, t0);
  auto d = s.assign("R3", 1, t0);
  ASSERT_EQ(d.size(), 1u);
  s.report("R3", d[0].piece, piece_outcome::bad_digest, "target:1", t0);
  EXPECT_TRUE(s.is_bad("target:1"));
}

TEST_F(swarm_test, APieceIsInFlightForItsAskerFromAssignmentToReportOnly) {
  // A is sent piece 0; B is not: only A's report of 0 is one the supernode asked for.
  seed_all(1);
  s.join("A", at("a:1"), {}, t0);
  s.join("B", at("b:1"), {}, t0);
  ASSERT_EQ(pieces(s.assign("A", 1, t0)), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(s.in_flight("A", 0));
  EXPECT_FALSE(s.in_flight("B", 0));
  EXPECT_FALSE(s.in_flight("nobody", 0));
  s.report("A", 0, piece_outcome::ok, supernode_source, t0);
  EXPECT_FALSE(s.in_flight("A", 0));
}

TEST_F(swarm_test, ScenarioWithParentSetsTheSeedSendsEachPieceOnceLowestFirst) {
  // 4 pieces, 0-2 cached. A asks for 2 to inject: 0 and 1 from the seed. B
  // asks for 2: only 2 is new. C asks: every cached piece has gone out once,
  // so nothing — not a second copy of 0 (A's parents and children pass it on).
  s.set_piece_count(4);
  for (std::uint64_t i = 0; i < 3; ++i) s.seed_has(i);
  for (const char* p : {"A", "B", "C"}) s.join(p, at(std::string(p) + ":1"), {}, t0);
  EXPECT_EQ(s.inject("A", 2, t0),
            (std::vector<decision>{{0, supernode_source}, {1, supernode_source}}));
  EXPECT_EQ(s.inject("B", 2, t0), (std::vector<decision>{{2, supernode_source}}));
  EXPECT_TRUE(s.inject("C", 4, t0).empty());
  // A holds 0 now: still not new. Piece 3 arrives: it is.
  s.report("A", 0, piece_outcome::ok, supernode_source, t0);
  EXPECT_TRUE(s.inject("C", 4, t0).empty());
  s.seed_has(3);
  EXPECT_EQ(s.inject("C", 4, t0), (std::vector<decision>{{3, supernode_source}}));
  // A's fetch of 1 failed and nobody else has it: it is new again.
  s.report("A", 1, piece_outcome::unreachable, supernode_source, t0);
  EXPECT_EQ(s.inject("C", 4, t0), (std::vector<decision>{{1, supernode_source}}));
}

TEST_F(swarm_test, ScenarioPiecesTheSeedSentCentrallyAreNotInjectedAgain) {
  // Pieces 0-3 cached. Centrally, A (serves) gets one from the seed, a, and
  // D (serves nothing) another, d. The task turns to parent sets; B asks for
  // pieces to inject: every piece but a, which A passes on — d included,
  // which D passes on to nobody.
  seed_all(4);
  s.join("A", at("a:1"), {}, t0);
  s.join("D", at(""), {}, t0);
  s.join("B", at("b:1"), {}, t0);
  const auto a = one_from_seed("A");
  one_from_seed("D");
  std::vector<std::uint64_t> all_but_a;
  for (std::uint64_t i = 0; i < 4; ++i)
    if (i != a) all_but_a.push_back(i);
  EXPECT_EQ(pieces(s.inject("B", 4, t0)), all_but_a);
  // A's copy is lost (its fetch failed): a is new again.
  s.report("A", a, piece_outcome::unreachable, supernode_source, t0);
  EXPECT_EQ(pieces(s.inject("B", 4, t0)), (std::vector<std::uint64_t>{a}));
}

TEST_F(swarm_test, ScenarioWithParentSetsTheSeedKeepsToItsSlots) {
  swarm_options o;
  o.seed_slots = 2;
  swarm small(o, 7);
  for (std::uint64_t i = 0; i < 4; ++i) small.seed_has(i);
  small.set_piece_count(4);
  small.join("A", at("a:1"), {}, t0);
  small.join("B", at("b:1"), {}, t0);
  EXPECT_EQ(pieces(small.inject("A", 4, t0)), (std::vector<std::uint64_t>{0, 1}));
  EXPECT_TRUE(small.inject("B", 4, t0).empty());  // both slots are A's
  small.report("A", 0, piece_outcome::ok, supernode_source, t0);
  EXPECT_EQ(pieces(small.inject("B", 4, t0)), (std::vector<std::uint64_t>{2}));
  small.check_invariants();
}

TEST_F(swarm_test, ScenarioParentsAreOtherServingPeersEachGivenOnce) {
  // A, B and C serve; D serves nothing. A asks for 16 parents: B and C (not
  // itself, not D). Asked again: none new. E joins: A is given E.
  s.set_piece_count(4);
  for (const char* p : {"A", "B", "C"}) s.join(p, at(std::string(p) + ":1"), {}, t0);
  s.join("D", at(""), {}, t0);
  auto first = s.parents_for("A", 16);
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()),
            (std::set<std::string>{"B:1", "C:1"}));
  EXPECT_TRUE(s.parents_for("A", 16).empty());
  s.join("E", at("E:1"), {}, t0);
  EXPECT_EQ(s.parents_for("A", 16), (std::vector<std::string>{"E:1"}));
  EXPECT_EQ(s.parent_count("A"), 3u);
  EXPECT_TRUE(s.parents_for("nobody", 16).empty());
}

TEST_F(swarm_test, ScenarioInAThousandPeersParentsAreAFewDistinctOnesAtRandom) {
  for (int i = 0; i < 1000; ++i) {
    auto id = "P" + std::to_string(i);
    s.join(id, at(id + ":1"), {}, t0);
  }
  auto a = s.parents_for("P0", 16);
  auto b = s.parents_for("P1", 16);
  ASSERT_EQ(a.size(), 16u);
  ASSERT_EQ(b.size(), 16u);
  std::set<std::string> distinct(a.begin(), a.end());
  EXPECT_EQ(distinct.size(), 16u);
  EXPECT_FALSE(distinct.contains("P0:1"));
  EXPECT_NE(a, b);  // drawn, not the first 16 of a list
}

TEST_F(swarm_test, AttackABadSourceIsNobodysParent) {
  // Three hosts were sent to bad:1 and got bad pieces from it: it is marked
  // bad, and no peer is given it as a parent afterwards.
  seed_all(1);
  s.join("BAD", at("bad:1"), bits("1"), t0);
  for (int i = 0; i < 3; ++i) {
    auto id = "V" + std::to_string(i);
    peer_info victim = at(id + ":1");
    victim.host = "10.0.0." + std::to_string(i);
    s.join(id, victim, {}, t0);
    ASSERT_EQ(s.assign(id, 1, t0), (std::vector<decision>{{0, "bad:1"}}));
    s.report(id, 0, piece_outcome::bad_digest, "bad:1", t0);
  }
  ASSERT_TRUE(s.is_bad("bad:1"));
  s.join("NEW", at("new:1"), {}, t0);
  auto given = s.parents_for("NEW", 16);
  EXPECT_EQ(given.size(), 3u);
  EXPECT_EQ(std::count(given.begin(), given.end(), "bad:1"), 0);
}

TEST_F(swarm_test, ScenarioParentsGoToThoseWithTheFewestChildren) {
  // B, C and D serve. Twelve peers that serve nothing ask for one parent
  // each: each of B, C, D becomes the parent of four, not the first to
  // register the parent of most. A child that leaves no longer counts.
  for (const char* p : {"B", "C", "D"}) s.join(p, at(std::string(p) + ":1"), {}, t0);
  std::map<std::string, int> children;
  for (int i = 0; i < 12; ++i) {
    auto id = "X" + std::to_string(i);
    s.join(id, at(""), {}, t0);
    auto given = s.parents_for(id, 1);
    ASSERT_EQ(given.size(), 1u);
    ++children[given[0]];
  }
  EXPECT_EQ(children, (std::map<std::string, int>{{"B:1", 4}, {"C:1", 4}, {"D:1", 4}}));
  EXPECT_EQ(s.child_count("B"), 4u);
  s.leave("X0");
  s.leave("X1");
  s.leave("X2");
  EXPECT_EQ(s.child_count("B") + s.child_count("C") + s.child_count("D"), 9u);
  // A parent that leaves is no longer its children's.
  s.leave("B");
  s.check_invariants();
}

TEST_F(swarm_test, ScenarioFortyPeersRegisteringOneByOneAreNotABandInTheirOrder) {
  // At a release forty peers register within a fifth of a second, in turn,
  // each asking for 8 parents as it registers; edges go both ways. Expect
  // a quarter of the edges or more between the first twenty and the last
  // twenty, and every peer within 3 hops of every other. Given "the fewest
  // children first", each newcomer took the peers just before it (they had
  // the fewest): 52 of 284 edges crossed the middle, and in the emulated
  // cluster the first 26 nodes finished 4 s after the last 14.
  constexpr int n = 40;
  std::vector<std::set<int>> edges(n);
  std::map<std::string, int> index;
  for (int i = 0; i < n; ++i) {
    auto id = "P" + std::to_string(i);
    index[id + ":1"] = i;
    s.join(id, at(id + ":1"), {}, t0);
    for (const auto& addr : s.parents_for(id, 8)) {
      edges[i].insert(index.at(addr));
      edges[index.at(addr)].insert(i);
    }
  }
  int all = 0, crossing = 0;
  for (int i = 0; i < n; ++i)
    for (int e : edges[i])
      if (e > i) {
        ++all;
        crossing += (i < n / 2) != (e < n / 2);
      }
  EXPECT_GE(crossing * 4, all) << crossing << " of " << all << " edges cross the middle";
  for (int from = 0; from < n; ++from) {
    std::vector<int> hops(n, -1);
    std::deque<int> todo{from};
    hops[from] = 0;
    while (!todo.empty()) {
      int here = todo.front();
      todo.pop_front();
      for (int next : edges[here])
        if (hops[next] < 0) {
          hops[next] = hops[here] + 1;
          todo.push_back(next);
        }
    }
    for (int to = 0; to < n; ++to) {
      EXPECT_GE(hops[to], 0) << to << " unreachable from " << from;
      EXPECT_LE(hops[to], 3) << to << " from " << from;
    }
  }
  s.check_invariants();
}

TEST_F(swarm_test, ScenarioParentsGoBothWaysSoTheFirstToRegisterHearOfThoseAfterThem) {
  // A and B register first; A takes B as its parent, and B hears of A at its
  // next ask. C comes later and takes both: A and B hear of C — without it
  // A and B would have parents only among themselves, blind to pieces
  // injected into C.
  s.join("A", at("a:1"), {}, t0);
  s.join("B", at("b:1"), {}, t0);
  EXPECT_EQ(s.parents_for("A", 2), (std::vector<std::string>{"b:1"}));
  EXPECT_EQ(s.parents_for("B", 0), (std::vector<std::string>{"a:1"}));
  s.join("C", at("c:1"), {}, t0);
  auto c = s.parents_for("C", 2);
  EXPECT_EQ(std::set<std::string>(c.begin(), c.end()), (std::set<std::string>{"a:1", "b:1"}));
  EXPECT_EQ(s.parents_for("A", 0), (std::vector<std::string>{"c:1"}));
  EXPECT_EQ(s.parents_for("B", 0), (std::vector<std::string>{"c:1"}));
  EXPECT_TRUE(s.parents_for("C", 0).empty());
  EXPECT_EQ(s.parent_count("A"), 2u);
  EXPECT_EQ(s.child_count("C"), 2u);
  // One that serves nothing takes parents but is nobody's.
  s.join("D", at(""), {}, t0);
  EXPECT_EQ(s.parents_for("D", 1).size(), 1u);
  EXPECT_TRUE(s.parents_for("A", 0).empty());
  EXPECT_TRUE(s.parents_for("B", 0).empty());
  EXPECT_TRUE(s.parents_for("C", 0).empty());
  s.leave("C");  // and one that leaves is no longer anybody's
  s.check_invariants();
}

TEST_F(swarm_test, AttackAPeerClaimingEveryPieceDoesNotStopInjection) {
  // LIAR registers holding every piece. With parent sets the supernode still
  // sends each piece once: a claim is not a copy anyone can get.
  seed_all(3);
  s.join("LIAR", at("liar:1"), bits("111"), t0);
  s.join("A", at("a:1"), {}, t0);
  EXPECT_EQ(pieces(s.inject("A", 3, t0)), (std::vector<std::uint64_t>{0, 1, 2}));
  // An injection lost with its peer is injected again.
  s.join("B", at("b:1"), {}, t0);
  s.leave("A");
  EXPECT_EQ(pieces(s.inject("B", 3, t0)), (std::vector<std::uint64_t>{0, 1, 2}));
  // One that times out too.
  s.join("C", at("c:1"), {}, t0);
  s.touch("B", t0 + 59s);
  s.touch("C", t0 + 59s);
  s.expire(t0 + 61s);
  EXPECT_EQ(pieces(s.inject("C", 1, t0 + 61s)), (std::vector<std::uint64_t>{0}));
}
