// SPDX-License-Identifier: Apache-2.0
// Scenario tests for a peer's own piece choice among its parents.
#include <gtest/gtest.h>

#include <set>

#include "damselfly/scheduler/piece_picker.hpp"

using namespace damselfly::scheduler;

namespace {

/// "1110" -> {true, true, true, false}
std::vector<bool> bits(const std::string& s) {
  std::vector<bool> v;
  for (char c : s) v.push_back(c == '1');
  return v;
}

const auto everyone_free = [](std::uint32_t) { return true; };

struct piece_picker_test : ::testing::Test {
  // Two requests per parent at most: the scenarios below ask more of one.
  piece_picker c{4, {.per_parent = 2}, 42};
  void TearDown() override { c.check_invariants(); }
};

TEST(piece_picker_defaults, OneRequestAtAParentAtATime) {
  // A and B hold every piece; C asks for 3: one piece from A, one from B,
  // and no third request (each parent has one). A's ends: A takes one more.
  piece_picker c{4, {}, 42};
  auto a = c.add_parent(bits("1111"));
  auto b = c.add_parent(bits("1111"));
  auto got = c.next(3, everyone_free);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::set<std::uint32_t>({got[0].parent, got[1].parent}),
            (std::set<std::uint32_t>{a, b}));
  EXPECT_TRUE(c.next(1, everyone_free).empty());
  auto from_a = got[0].parent == a ? got[0] : got[1];
  c.done(from_a.piece, a, true);
  auto more = c.next(3, everyone_free);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].parent, a);
  c.check_invariants();
}

TEST_F(piece_picker_test, RarestAmongTheParentsComesFirstFromTheOnlyHolder) {
  // A has 1110, B has 0111; C holds nothing and asks for one: pieces 0 and 3
  // have one holder each, 1 and 2 two. Expect 0 from A or 3 from B.
  auto a = c.add_parent(bits("1110"));
  auto b = c.add_parent(bits("0111"));
  auto got = c.next(1, everyone_free);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0] == (piece_picker::pick{0, a}) || got[0] == (piece_picker::pick{3, b}))
      << got[0].piece << " from " << got[0].parent;
  // Asked for two more: the other single-holder piece, then a shared one.
  auto more = c.next(2, everyone_free);
  ASSERT_EQ(more.size(), 2u);
  std::set<std::uint64_t> first_two{got[0].piece, more[0].piece};
  EXPECT_EQ(first_two, (std::set<std::uint64_t>{0, 3}));
  EXPECT_TRUE(more[1].piece == 1 || more[1].piece == 2);
}

TEST_F(piece_picker_test, APieceInFlightOrHeldIsNotPickedAgain) {
  auto a = c.add_parent(bits("1111"));
  c.fetching(0);  // from the supernode
  auto got = c.next(4, everyone_free);
  ASSERT_EQ(got.size(), 2u);  // A takes two requests from this peer at most
  for (const auto& p : got) {
    EXPECT_NE(p.piece, 0u);
    EXPECT_EQ(p.parent, a);
  }
  c.done(got[0].piece, a, true);
  c.done(0, piece_picker::no_parent, true);
  EXPECT_EQ(c.held_count(), 2u);
  auto next = c.next(4, everyone_free);
  ASSERT_EQ(next.size(), 1u);  // one request still at A
  EXPECT_FALSE(c.has(next[0].piece));
  EXPECT_NE(next[0].piece, got[1].piece);
}

TEST_F(piece_picker_test, ABusyParentIsPassedOverForAFreeOne) {
  // A and B both have 1100; A has no free upload slot: both picks go to B.
  auto a = c.add_parent(bits("1100"));
  auto b = c.add_parent(bits("1100"));
  auto got = c.next(2, [a](std::uint32_t p) { return p != a; });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].parent, b);
  EXPECT_EQ(got[1].parent, b);
}

TEST_F(piece_picker_test, RequestsSpreadOverTheParentsThatHoldAPiece) {
  // Four parents with everything: four picks, one at each (fewest asked first).
  std::set<std::uint32_t> parents;
  for (int i = 0; i < 4; ++i) c.add_parent(bits("1111"));
  for (const auto& p : c.next(4, everyone_free)) parents.insert(p.parent);
  EXPECT_EQ(parents.size(), 4u);
}

TEST_F(piece_picker_test, NewsFromAParentMakesItsPieceAvailable) {
  // Nobody holds piece 3: nothing to pick until B says it has it.
  auto a = c.add_parent(bits("1110"));
  auto b = c.add_parent(bits("0000"));
  for (int round = 0; round < 2; ++round)  // two requests at A at a time
    for (const auto& p : c.next(3, everyone_free)) c.done(p.piece, a, true);
  EXPECT_EQ(c.held_count(), 3u);
  EXPECT_TRUE(c.next(1, everyone_free).empty());
  EXPECT_EQ(c.orphans(), 1u);  // only the supernode could give piece 3 now
  c.parent_has(b, 3);
  c.parent_has(b, 3);  // told twice, counted once
  EXPECT_EQ(c.availability(3), 1u);
  EXPECT_EQ(c.orphans(), 0u);
  auto got = c.next(1, everyone_free);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], (piece_picker::pick{3, b}));
  c.done(3, b, true);
  EXPECT_TRUE(c.complete());
}

TEST_F(piece_picker_test, AFailedPieceCanBePickedAgain) {
  auto a = c.add_parent(bits("1000"));
  auto got = c.next(1, everyone_free);
  ASSERT_EQ(got.size(), 1u);
  c.done(0, a, false);
  EXPECT_FALSE(c.has(0));
  EXPECT_EQ(c.orphans(), 3u);  // pieces 1-3: no parent holds them
  EXPECT_EQ(c.next(1, everyone_free).size(), 1u);
}

}  // namespace

TEST_F(piece_picker_test, WhatOnlyADroppedParentHeldIsAnOrphanAgain) {
  // A has 1100, B has 0110. A is given up (it sent a bad piece): piece 0,
  // which only A held, is an orphan (the supernode's to give); 1 still B's.
  auto a = c.add_parent(bits("1100"));
  auto b = c.add_parent(bits("0110"));
  EXPECT_EQ(c.orphans(), 1u);  // piece 3
  c.drop_parent(a);
  EXPECT_EQ(c.orphans(), 2u);  // pieces 0 and 3
  EXPECT_EQ(c.availability(0), 0u);
  EXPECT_EQ(c.availability(1), 1u);
  // News from it changes nothing; what is picked comes from B.
  c.parent_has(a, 3);
  EXPECT_EQ(c.availability(3), 0u);
  for (const auto& p : c.next(4, everyone_free)) EXPECT_EQ(p.parent, b) << p.piece;
}
