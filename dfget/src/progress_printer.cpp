// SPDX-License-Identifier: Apache-2.0
// Progress bar and JSON progress lines.
#include "progress_printer.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace damselfly::dfget {

namespace {

std::string mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return buf;
}

constexpr auto redraw_every = std::chrono::milliseconds(250);
constexpr auto rate_window = std::chrono::seconds(3);

}  // namespace

bool parse_progress_mode(const std::string& text, progress_mode& out) {
  if (text == "bar")
    out = progress_mode::bar;
  else if (text == "json")
    out = progress_mode::json;
  else if (text == "none")
    out = progress_mode::none;
  else
    return false;
  return true;
}

progress_printer::progress_printer(progress_mode mode) : mode_(mode) {}

progress_printer::~progress_printer() {
  finish();
}

void progress_printer::set_name(std::string name) {
  std::lock_guard lock(mutex_);
  name_ = std::move(name);
}

void progress_printer::update(std::uint64_t bytes, std::int64_t total) {
  if (mode_ == progress_mode::none) return;
  auto now = clock::now();
  std::lock_guard lock(mutex_);
  bytes_ = bytes;
  total_ = total;
  known_ = true;
  if (mode_ == progress_mode::json) {
    if (now - last_json_ < std::chrono::milliseconds(200)) return;
    last_json_ = now;
    nlohmann::json j{{"event", "progress"}, {"bytes", bytes}, {"total", total}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
    return;
  }
  if (!redraw_.joinable() && !stopping_) {
    draw_locked(now);
    redraw_ = std::thread([this] {
      std::unique_lock held(mutex_);
      while (!stop_cv_.wait_for(held, redraw_every, [this] { return stopping_; }))
        draw_locked(clock::now());
    });
  }
}

void progress_printer::draw_locked(clock::time_point now) {
  if (!known_) return;
  samples_.emplace_back(now, bytes_);
  while (samples_.size() > 2 && now - samples_.front().first > rate_window) samples_.pop_front();
  double secs = std::chrono::duration<double>(now - samples_.front().first).count();
  double rate = secs > 0.2
                    ? static_cast<double>(bytes_ - std::min(bytes_, samples_.front().second)) / secs
                    : 0.0;
  constexpr int width = 30;
  std::string bar(width, ' ');
  int percent = -1;
  if (total_ > 0) {
    percent = static_cast<int>(100.0 * static_cast<double>(bytes_) / static_cast<double>(total_));
    int filled = std::clamp(percent * width / 100, 0, width);
    std::fill(bar.begin(), bar.begin() + filled, '=');
    if (filled < width) bar[static_cast<std::size_t>(filled)] = '>';
  }
  std::string eta = "--:--";
  if (total_ > 0 && rate > 1 && static_cast<std::uint64_t>(total_) >= bytes_) {
    auto left =
        static_cast<long>(static_cast<double>(static_cast<std::uint64_t>(total_) - bytes_) / rate);
    char buf[32];
    if (left >= 3600)
      std::snprintf(buf, sizeof buf, "%ldh%02ldm", left / 3600, left / 60 % 60);
    else
      std::snprintf(buf, sizeof buf, "%02ld:%02ld", left / 60, left % 60);
    eta = buf;
  }
  std::string name = name_.size() > 24 ? name_.substr(0, 21) + "..." : name_;
  std::fprintf(
      stderr, "\r%s%s[%s] %3d%% %s of %s, %s/s, eta %s   ", name.c_str(), name.empty() ? "" : " ",
      bar.c_str(), std::max(percent, 0), mib(static_cast<double>(bytes_)).c_str(),
      total_ >= 0 ? mib(static_cast<double>(total_)).c_str() : "?", mib(rate).c_str(), eta.c_str());
  std::fflush(stderr);
  drew_bar_ = true;
}

void progress_printer::finish() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (redraw_.joinable()) redraw_.join();
  std::lock_guard lock(mutex_);
  stopping_ = false;  // another attempt may draw again
  samples_.clear();
  if (drew_bar_) {
    std::fprintf(stderr, "\n");
    drew_bar_ = false;
  }
}

void progress_printer::done(std::uint64_t bytes, std::chrono::milliseconds elapsed,
                            std::uint64_t from_supernode, std::uint64_t from_peers,
                            std::uint64_t from_origin) {
  if (mode_ == progress_mode::bar) {
    {
      std::lock_guard lock(mutex_);
      bytes_ = bytes;
      if (drew_bar_) draw_locked(clock::now());  // the final figures, at 100%
    }
    finish();
  }
  if (mode_ == progress_mode::json) {
    nlohmann::json j{{"event", "done"},
                     {"bytes", bytes},
                     {"elapsed_ms", elapsed.count()},
                     {"from_supernode", from_supernode},
                     {"from_peers", from_peers},
                     {"from_origin", from_origin}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
}

void progress_printer::failed(int exit_code, const std::string& message) {
  finish();
  if (mode_ == progress_mode::json) {
    nlohmann::json j{{"event", "error"}, {"exit_code", exit_code}, {"message", message}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
}

}  // namespace damselfly::dfget
