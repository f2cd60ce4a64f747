// SPDX-License-Identifier: Apache-2.0
// A Prometheus histogram of durations: fixed buckets, lock-free observations.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace damselfly {

/// Counts observations (seconds) into fixed upper bounds, plus their sum.
/// observe() is thread-safe and takes no lock; render() may run alongside.
class histogram {
 public:
  /// `bounds`: ascending bucket upper bounds in seconds (+Inf is implied).
  explicit histogram(std::vector<double> bounds);

  void observe(std::chrono::nanoseconds d) noexcept;

  /// Appends `name_bucket{labels,le=...}`, `name_sum` and `name_count` lines.
  void render(std::string& out, const std::string& name, const std::string& labels) const;

  std::uint64_t count() const noexcept;
  const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  ///< per bucket, last is +Inf
  std::atomic<std::uint64_t> sum_ns_{0};
};

/// Bucket bounds for piece transfers (1 ms to 30 s).
std::vector<double> piece_duration_buckets();
/// Bucket bounds for control requests handled in memory (50 µs to 1 s).
std::vector<double> request_duration_buckets();

}  // namespace damselfly
