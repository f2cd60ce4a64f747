// SPDX-License-Identifier: Apache-2.0
// Counters and gauges rendered in the Prometheus text format.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "damselfly/common/histogram.hpp"

namespace damselfly {

/// A monotonically increasing count (or a gauge when set()); thread-safe.
class metric_value {
 public:
  void add(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  void set(std::uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

/// Owns metrics by name and label set; references stay valid for its lifetime.
class metrics_registry {
 public:
  /// A counter `name{labels}`; `labels` is the inside of the braces, e.g. R"(from="peer")".
  metric_value& counter(const std::string& name, const std::string& help,
                        const std::string& labels = "");
  metric_value& gauge(const std::string& name, const std::string& help,
                      const std::string& labels = "");
  /// A histogram `name{labels}` with the given bucket bounds (seconds); the
  /// name ends in `_seconds` by convention.
  damselfly::histogram& histogram(const std::string& name, const std::string& help,
                                  const std::vector<double>& bounds,
                                  const std::string& labels = "");
  /// Prometheus text exposition (version 0.0.4).
  std::string render() const;

 private:
  struct family {
    std::string help;
    std::string type;
    std::map<std::string, metric_value*> series;
    std::map<std::string, damselfly::histogram*> histograms;
  };
  family& family_of(const std::string& name, const std::string& help, const std::string& type);
  metric_value& get(const std::string& name, const std::string& help, const std::string& type,
                    const std::string& labels);

  mutable std::mutex mu_;
  std::map<std::string, family> families_;
  std::deque<metric_value> storage_;
  std::deque<damselfly::histogram> histogram_storage_;
};

}  // namespace damselfly
