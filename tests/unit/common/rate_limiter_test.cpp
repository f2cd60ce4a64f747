// SPDX-License-Identifier: Apache-2.0
// Token bucket driven by a manual clock, and size parsing.
#include <gtest/gtest.h>

#include "damselfly/common/rate_limiter.hpp"

using namespace damselfly;
using namespace std::chrono_literals;

TEST(RateLimiter, BurstIsFreeThenRateApplies) {
  auto t0 = rate_limiter::clock::time_point{} + 100s;
  rate_limiter rl(1000, 500, t0);
  EXPECT_EQ(rl.acquire(500, t0), 0ns);
  EXPECT_EQ(rl.acquire(1000, t0), 1s);  // 1000 bytes of debt at 1000 B/s
  // After that second has passed, the debt is paid and half a second earns 500 tokens.
  EXPECT_EQ(rl.acquire(500, t0 + 1500ms), 0ns);
}

TEST(RateLimiter, LongRunRateHolds) {
  auto now = rate_limiter::clock::time_point{};
  rate_limiter rl(1 << 20, 64 << 10, now);
  std::uint64_t sent = 0;
  for (int i = 0; i < 1000; ++i) {
    now += rl.acquire(16 << 10, now);
    sent += 16 << 10;
  }
  double seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  double rate = static_cast<double>(sent) / seconds;
  EXPECT_NEAR(rate, 1 << 20, (1 << 20) * 0.02);
}

TEST(RateLimiter, ZeroMeansUnlimited) {
  auto t0 = rate_limiter::clock::time_point{};
  rate_limiter rl(0, 0, t0);
  EXPECT_TRUE(rl.unlimited());
  EXPECT_EQ(rl.acquire(1ull << 40, t0), 0ns);
  rl.set_rate(100, t0);
  EXPECT_GT(rl.acquire(1000, t0), 0ns);
}

TEST(ParseSize, UnitsAndErrors) {
  EXPECT_EQ(*parse_size("100"), 100u);
  EXPECT_EQ(*parse_size("8M"), 8u << 20);
  EXPECT_EQ(*parse_size("512k"), 512u << 10);
  EXPECT_EQ(*parse_size("1G"), 1u << 30);
  EXPECT_EQ(*parse_size("1.5KiB"), 1536u);
  EXPECT_EQ(*parse_size("10MB"), 10u << 20);
  for (const char* bad : {"", "M", "-1", "8X", "8MM", "1e30G"})
    EXPECT_FALSE(parse_size(bad)) << bad;
}

TEST(ParseDuration, TakesSecondsAndTheUsualUnits) {
  using std::chrono::milliseconds;
  EXPECT_EQ(*parse_duration("90"), milliseconds(90'000));
  EXPECT_EQ(*parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(*parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(*parse_duration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(*parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(*parse_duration(" 1.5s "), milliseconds(1500));
  EXPECT_EQ(*parse_duration("0"), milliseconds(0));
  for (const char* bad : {"", "s", "-1", "5x", "5 minutes", "1e300", "nan", "5mm"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}
