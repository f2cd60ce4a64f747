// SPDX-License-Identifier: Apache-2.0
// Range and Content-Range parsing (RFC 9110 single byte ranges).
#include <gtest/gtest.h>

#include "damselfly/common/http_range.hpp"

using namespace damselfly;

TEST(RangeHeader, ClosedOpenAndSuffixForms) {
  EXPECT_EQ(*parse_range_header("bytes=0-99", 1000), (piece_range{0, 100}));
  EXPECT_EQ(*parse_range_header("bytes=900-", 1000), (piece_range{900, 100}));
  EXPECT_EQ(*parse_range_header("bytes=-10", 1000), (piece_range{990, 10}));
  EXPECT_EQ(*parse_range_header("bytes=-5000", 1000), (piece_range{0, 1000}));
  EXPECT_EQ(*parse_range_header("bytes=990-5000", 1000), (piece_range{990, 10}));
  EXPECT_EQ(*parse_range_header(" bytes=1-1 ", 2), (piece_range{1, 1}));
}

TEST(RangeHeader, UnsatisfiableRanges) {
  EXPECT_EQ(parse_range_header("bytes=1000-", 1000).error(), errc::range_not_satisfiable);
  EXPECT_EQ(parse_range_header("bytes=0-0", 0).error(), errc::range_not_satisfiable);
  EXPECT_EQ(parse_range_header("bytes=-0", 1000).error(), errc::range_not_satisfiable);
}

TEST(RangeHeader, MalformedAndMultipleRanges) {
  for (const char* bad : {"bytes=", "bytes=a-b", "items=0-1", "bytes=5-1", "bytes=0-1,3-4", "0-1",
                          "bytes=-", "bytes=1"})
    EXPECT_EQ(parse_range_header(bad, 1000).error(), errc::bad_request) << bad;
}

TEST(ContentRange, ParsesAndFormats) {
  auto c = parse_content_range("bytes 0-0/1234");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c->range, (piece_range{0, 1}));
  EXPECT_EQ(*c->total, 1234u);
  auto star = parse_content_range("bytes */0");
  ASSERT_TRUE(star);
  EXPECT_FALSE(star->range);
  EXPECT_EQ(*star->total, 0u);
  auto unknown = parse_content_range("bytes 5-9/*");
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(unknown->total);
  EXPECT_FALSE(parse_content_range("bytes 5-9/7"));  // end beyond total
  EXPECT_FALSE(parse_content_range("bytes */*"));
  EXPECT_EQ(format_content_range({10, 5}, 100), "bytes 10-14/100");
  EXPECT_EQ(format_range_request({10, 5}), "bytes=10-14");
}
