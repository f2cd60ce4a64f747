// SPDX-License-Identifier: Apache-2.0
// How dfget shows a download's progress: a bar on a terminal, JSON lines for pipelines, or nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace damselfly::dfget {

enum class progress_mode { none, bar, json };

/// Throttled progress output (at most 5 updates a second). Bars go to stderr
/// (file name, bar, percent, bytes, rate, time left), JSON lines to stdout,
/// one object per line.
class progress_printer {
 public:
  explicit progress_printer(progress_mode mode);
  /// The name the bar starts with (the output's file name).
  void set_name(std::string name) { name_ = std::move(name); }
  void update(std::uint64_t bytes, std::int64_t total);
  /// Final success event (json) or clears the bar line.
  void done(std::uint64_t bytes, std::chrono::milliseconds elapsed, std::uint64_t from_supernode,
            std::uint64_t from_peers, std::uint64_t from_origin);
  /// Final failure event (json) or clears the bar line.
  void failed(int exit_code, const std::string& message);

 private:
  progress_mode mode_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
  bool drew_bar_ = false;
  std::string name_;
};

/// "bar", "json" or "none"; anything else is nullopt-like: returns false.
bool parse_progress_mode(const std::string& text, progress_mode& out);

}  // namespace damselfly::dfget
