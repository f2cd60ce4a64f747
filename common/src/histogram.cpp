// SPDX-License-Identifier: Apache-2.0
// Histogram observation and Prometheus text rendering.
#include "damselfly/common/histogram.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace damselfly {

namespace {

std::string format_seconds(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
    throw std::logic_error("histogram bounds must be strictly ascending");
}

void histogram::observe(std::chrono::nanoseconds d) noexcept {
  auto ns = std::max<std::int64_t>(0, d.count());
  double seconds = static_cast<double>(ns) / 1e9;
  // "le": a value equal to a bound belongs to that bound's bucket.
  auto at = std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin();
  counts_[static_cast<std::size_t>(at)].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

std::uint64_t histogram::count() const noexcept {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) n += counts_[i].load(std::memory_order_relaxed);
  return n;
}

void histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : labels + ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    auto le = i < bounds_.size() ? format_seconds(bounds_[i]) : std::string("+Inf");
    out += name + "_bucket{" + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  auto braces = labels.empty() ? std::string() : "{" + labels + "}";
  // Count from the buckets just read, so +Inf and _count always agree.
  out += name + "_sum" + braces + " " +
         format_seconds(static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9) + "\n";
  out += name + "_count" + braces + " " + std::to_string(cumulative) + "\n";
}

std::vector<double> piece_duration_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::vector<double> request_duration_buckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.25, 1};
}

}  // namespace damselfly
