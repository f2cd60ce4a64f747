// SPDX-License-Identifier: Apache-2.0
// Bytes per second over the last few seconds, from counts added as they happen.
#include "damselfly/common/rate_meter.hpp"

#include <algorithm>

namespace damselfly {

std::int64_t rate_meter::second_of(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

void rate_meter::add(std::uint64_t bytes, clock::time_point now) {
  if (!started_) {
    started_ = true;
    first_ = now;
    second_.fill(-1);
  }
  auto s = second_of(now);
  auto slot = static_cast<std::size_t>(((s % buckets) + buckets) % buckets);
  if (second_[slot] != s) {
    second_[slot] = s;
    bytes_[slot] = 0;
  }
  bytes_[slot] += bytes;
}

std::uint64_t rate_meter::bucket(std::int64_t s, std::int64_t now_s) const {
  auto slot = static_cast<std::size_t>(((s % buckets) + buckets) % buckets);
  return second_[slot] == s && s <= now_s && s > now_s - buckets ? bytes_[slot] : 0;
}

std::uint64_t rate_meter::rate(clock::time_point now) const {
  if (!started_) return 0;
  auto now_s = second_of(now);
  std::uint64_t sum = 0;
  for (std::int64_t s = now_s - window; s <= now_s; ++s) sum += bucket(s, now_s);
  // The window: `window` whole seconds and the part of this one gone by,
  // shortened while the meter is younger than that.
  auto into_second = now - clock::time_point(std::chrono::seconds(now_s));
  double span = window + std::chrono::duration<double>(into_second).count();
  double age = std::chrono::duration<double>(now - first_).count();
  span = std::clamp(std::min(span, age), 0.25, span);
  return static_cast<std::uint64_t>(static_cast<double>(sum) / span);
}

}  // namespace damselfly
