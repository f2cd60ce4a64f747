// SPDX-License-Identifier: Apache-2.0
// Piece sizing rule and piece ranges, including the edges.
#include <gtest/gtest.h>

#include "damselfly/common/piece_math.hpp"

using namespace damselfly;

TEST(PieceMath, SmallFilesGetTheMinimumSize) {
  EXPECT_EQ(choose_piece_size(0), 64u << 10);
  EXPECT_EQ(choose_piece_size(1), 64u << 10);
  EXPECT_EQ(choose_piece_size(16 << 20), 64u << 10);
}

TEST(PieceMath, FilesUnder256MiBStillGetEnoughPiecesToPipeline) {
  // A swarm relays a piece only once it has it whole: 16 pieces of 1 MiB
  // left a 16 MiB file at 3x the bound at N=40 (swarm_sim), 128 of 128 KiB
  // at 1.3x, 256 of 64 KiB (with compact sync answers) at 1.23x.
  EXPECT_EQ(choose_piece_size(16 << 20), 64u << 10);
  EXPECT_EQ(choose_piece_size(32 << 20), 128u << 10);
  EXPECT_EQ(choose_piece_size(100 << 20), 512u << 10);
  EXPECT_EQ(choose_piece_size(256 << 20), 1u << 20);
}

TEST(PieceMath, LargeFilesAimAtAboutTwoHundredFiftySixPieces) {
  EXPECT_EQ(choose_piece_size(1ll << 30), 4u << 20);    // 1 GiB -> 256 x 4 MiB
  EXPECT_EQ(choose_piece_size(300ll << 20), 2u << 20);  // rounds up to a power of two
  EXPECT_EQ(choose_piece_size(64ll << 30), 16u << 20);  // clamped
}

TEST(PieceMath, FixedAndUnknownLength) {
  piece_sizing rule;
  rule.fixed_size = 123456;
  EXPECT_EQ(choose_piece_size(1ll << 30, rule), 123456u);
  EXPECT_EQ(choose_piece_size(-1), 4u << 20);
}

TEST(PieceMath, CountsAndRanges) {
  const std::uint64_t mib = 1 << 20;
  EXPECT_EQ(piece_count(0, mib), 0u);
  EXPECT_EQ(piece_count(1, mib), 1u);
  EXPECT_EQ(piece_count(mib, mib), 1u);
  EXPECT_EQ(piece_count(mib + 1, mib), 2u);
  EXPECT_EQ(piece_at(0, mib + 1, mib), (piece_range{0, mib}));
  EXPECT_EQ(piece_at(1, mib + 1, mib), (piece_range{mib, 1}));
  EXPECT_THROW(piece_at(2, mib + 1, mib), std::out_of_range);
  EXPECT_THROW(piece_count(1, 0), std::invalid_argument);
}
