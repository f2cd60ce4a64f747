// SPDX-License-Identifier: Apache-2.0
// How dfget shows a download's progress: a bar on a terminal, JSON lines for pipelines, or nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace damselfly::dfget {

enum class progress_mode { none, bar, json };

/// Progress output. The bar (on stderr: file name, bar, percent, bytes,
/// current rate, time left) is redrawn four times a second from its own
/// thread, so it moves, and its rate falls, while no bytes arrive. JSON lines
/// (stdout, one object per line) come with the updates, at most five a second.
class progress_printer {
 public:
  explicit progress_printer(progress_mode mode);
  ~progress_printer();
  progress_printer(const progress_printer&) = delete;
  progress_printer& operator=(const progress_printer&) = delete;

  /// The name the bar starts with (the output's file name).
  void set_name(std::string name);
  /// Any thread may call this.
  void update(std::uint64_t bytes, std::int64_t total);
  /// Final success event (json) or ends the bar line.
  void done(std::uint64_t bytes, std::chrono::milliseconds elapsed, std::uint64_t from_supernode,
            std::uint64_t from_peers, std::uint64_t from_origin);
  /// Final failure event (json) or ends the bar line.
  void failed(int exit_code, const std::string& message);

 private:
  using clock = std::chrono::steady_clock;
  /// Draws the bar from the latest figures; the lock is held.
  void draw_locked(clock::time_point now);
  /// Stops the redraw thread and ends the bar line.
  void finish();

  progress_mode mode_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread redraw_;  ///< bar mode, from the first update on
  clock::time_point last_json_{};
  bool drew_bar_ = false;
  std::string name_;
  std::uint64_t bytes_ = 0;
  std::int64_t total_ = -1;
  bool known_ = false;  ///< an update has come
  /// Recent (time, bytes) samples: the rate is taken over the last few seconds.
  std::deque<std::pair<clock::time_point, std::uint64_t>> samples_;
};

/// "bar", "json" or "none"; anything else is nullopt-like: returns false.
bool parse_progress_mode(const std::string& text, progress_mode& out);

}  // namespace damselfly::dfget
