// SPDX-License-Identifier: Apache-2.0
// Bytes per second over the last few seconds, from counts added as they happen.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace damselfly {

/// A sliding window of one-second buckets: rate() is what was added in the
/// last `window` whole seconds and the current partial one, over that time.
/// Time is passed in, so tests drive it with a manual clock.
class rate_meter {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr int window = 4;

  void add(std::uint64_t bytes, clock::time_point now);
  /// Bytes per second; 0 when nothing was added within the window.
  std::uint64_t rate(clock::time_point now) const;

 private:
  static constexpr int buckets = window + 1;
  static std::int64_t second_of(clock::time_point t);
  /// The bytes of second `s` if it is still in the window ending at `now_s`.
  std::uint64_t bucket(std::int64_t s, std::int64_t now_s) const;

  std::array<std::uint64_t, buckets> bytes_{};
  std::array<std::int64_t, buckets> second_{};  ///< which second each bucket holds
  bool started_ = false;
  clock::time_point first_{};  ///< the first add: a young meter divides by less time
};

}  // namespace damselfly
