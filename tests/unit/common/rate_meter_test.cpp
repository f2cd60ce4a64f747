// SPDX-License-Identifier: Apache-2.0
// Bytes per second over a sliding window, driven by a manual clock.
#include <gtest/gtest.h>

#include "damselfly/common/rate_meter.hpp"

using namespace damselfly;
using namespace std::chrono_literals;

namespace {
const auto t0 = rate_meter::clock::time_point{} + 1000s;
}

TEST(RateMeter, NothingAddedIsZero) {
  rate_meter m;
  EXPECT_EQ(m.rate(t0), 0u);
}

TEST(RateMeter, ASteadyStreamReadsAsItsRate) {
  rate_meter m;
  // 1 MiB/s in 64 KiB pieces for 10 s.
  auto now = t0;
  for (int i = 0; i < 160; ++i) {
    m.add(64 << 10, now);
    now += 62500us;
  }
  EXPECT_NEAR(static_cast<double>(m.rate(now)), 1 << 20, (1 << 20) * 0.1);
}

TEST(RateMeter, AYoungMeterDividesByItsAgeNotTheWholeWindow) {
  rate_meter m;
  m.add(1000, t0);
  m.add(1000, t0 + 500ms);
  m.add(1000, t0 + 1s);
  // 3000 bytes in one second (not spread over four).
  EXPECT_NEAR(static_cast<double>(m.rate(t0 + 1s)), 3000, 300);
}

TEST(RateMeter, TrafficThatStoppedLeavesTheWindowAndReadsZero) {
  rate_meter m;
  for (int i = 0; i < 10; ++i) m.add(1 << 20, t0 + i * 100ms);
  EXPECT_GT(m.rate(t0 + 1s), 0u);
  EXPECT_EQ(m.rate(t0 + 1s + std::chrono::seconds(rate_meter::window + 2)), 0u);
  // And a bucket reused after a long pause starts afresh.
  m.add(500, t0 + 60s);
  EXPECT_LE(m.rate(t0 + 60s + 500ms), 500u);
}
