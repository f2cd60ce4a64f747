// SPDX-License-Identifier: Apache-2.0
// The have stream: what a child reads from a parent, fed as the bytes come, and lies refused.
#include "damselfly/proto/have_stream.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace damselfly::proto;

namespace {

/// Feeds `text` to a reader of a `count`-piece task in slices of `step`
/// bytes; the pieces it was told of, and its verdict.
std::pair<std::set<std::uint64_t>, std::string> read(std::uint64_t count, const std::string& text,
                                                     std::size_t step = 1) {
  have_stream_reader r(count);
  std::set<std::uint64_t> held;
  std::string error;
  for (std::size_t at = 0; at < text.size() && error.empty(); at += step)
    error =
        r.feed(std::string_view(text).substr(at, step), [&](std::uint64_t p) { held.insert(p); });
  return {held, error};
}

}  // namespace

TEST(HaveStream, TheBitmapThenEachNewPieceWhateverTheBytesArriveIn) {
  auto text = have_stream_start({true, false, false, true}) + have_stream_piece(2) +
              std::string(have_stream_keepalive) + have_stream_piece(1);
  EXPECT_EQ(text, "b 1001\n2\n\n1\n");
  for (std::size_t step : {1u, 2u, 5u, 100u}) {
    auto [held, error] = read(4, text, step);
    EXPECT_EQ(error, "") << step;
    EXPECT_EQ(held, (std::set<std::uint64_t>{0, 1, 2, 3})) << step;
  }
  // A line not yet ended tells nothing.
  auto [held, error] = read(4, "b 0000\n3");
  EXPECT_EQ(error, "");
  EXPECT_TRUE(held.empty());
}

TEST(HaveStream, AttackAParentLyingInItsHaveStreamIsRefusedBeforeAnythingIsBelieved) {
  auto refused = [](const std::string& text) { return !read(4, text, 3).second.empty(); };
  EXPECT_TRUE(refused("2\n")) << "no bitmap first";
  EXPECT_TRUE(refused("b 10\n")) << "a bitmap of 2 pieces for a task of 4";
  EXPECT_TRUE(refused("b 10x1\n")) << "a bitmap with other characters";
  EXPECT_TRUE(refused("b 1001\n4\n")) << "a piece past the task";
  EXPECT_TRUE(refused("b 1001\n18446744073709551616\n")) << "past 64 bits";
  EXPECT_TRUE(refused("b 1001\n-1\n")) << "negative";
  EXPECT_TRUE(refused("b 1001\n 2\n")) << "space";
  EXPECT_TRUE(refused("b 1001\n" + std::string(100, '1'))) << "an endless line, not yet ended";
  EXPECT_FALSE(refused("b 1001\n3\n"));
  // Refused once, refused for good: nothing after the lie counts.
  have_stream_reader r(4);
  std::set<std::uint64_t> held;
  auto tell = [&](std::uint64_t p) { held.insert(p); };
  EXPECT_NE(r.feed("b 0000\n9\n", tell), "");
  EXPECT_NE(r.feed("2\n", tell), "");
  EXPECT_TRUE(held.empty());
}
