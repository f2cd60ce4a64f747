// SPDX-License-Identifier: Apache-2.0
// Token-bucket rate limiter; time is passed in so tests drive it with a manual clock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>

#include "damselfly/common/error.hpp"

namespace damselfly {

/// Token bucket: `rate` bytes per second with bursts up to `burst` bytes.
/// A rate of 0 means unlimited. Callers ask how long to wait before sending.
/// Thread-safe: the uploads of a server with several threads share one.
class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;

  rate_limiter(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes, clock::time_point now);

  /// Takes `bytes` tokens (going into debt if needed) and returns how long the
  /// caller must wait before sending them so the long-run rate holds.
  clock::duration acquire(std::uint64_t bytes, clock::time_point now);

  /// Changes the rate; tokens already earned are kept (up to the burst).
  void set_rate(std::uint64_t rate_bytes_per_s, clock::time_point now);

  std::uint64_t rate() const noexcept { return rate_; }
  bool unlimited() const noexcept { return rate_ == 0; }

 private:
  void refill(clock::time_point now);

  std::mutex mu_;
  std::atomic<std::uint64_t> rate_;
  double burst_;
  double tokens_;
  clock::time_point last_;
};

/// A pace function for file_slice: each call takes `bytes` tokens from
/// `limiter` now and says how long to wait. The limiter is shared by every
/// upload of one server.
std::function<std::chrono::nanoseconds(std::uint64_t)> make_pacer(
    std::shared_ptr<rate_limiter> limiter);

/// Parses sizes like "8M", "512k", "1G", "100" (bytes; K/M/G/T are powers of 1024,
/// an optional trailing "B" or "iB" is accepted). invalid_argument otherwise.
result<std::uint64_t> parse_size(std::string_view text);

/// Parses durations like "30", "30s", "5m", "1h", "250ms" (a bare number is
/// seconds; fractions allowed: "1.5s"). invalid_argument otherwise.
result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace damselfly
