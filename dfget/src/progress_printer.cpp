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

void progress_printer::update(std::uint64_t bytes, std::int64_t total) {
  auto now = std::chrono::steady_clock::now();
  if (mode_ == progress_mode::none || now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  if (mode_ == progress_mode::json) {
    nlohmann::json j{{"event", "progress"}, {"bytes", bytes}, {"total", total}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
    return;
  }
  double secs = std::max(0.001, std::chrono::duration<double>(now - started_).count());
  double rate = static_cast<double>(bytes) / secs;
  constexpr int width = 30;
  std::string bar(width, ' ');
  int percent = -1;
  if (total > 0) {
    percent = static_cast<int>(100.0 * static_cast<double>(bytes) / static_cast<double>(total));
    int filled = std::min(width, percent * width / 100);
    std::fill(bar.begin(), bar.begin() + filled, '=');
    if (filled < width) bar[static_cast<std::size_t>(filled)] = '>';
  }
  std::string eta = "--:--";
  if (total > 0 && rate > 1 && static_cast<std::uint64_t>(total) >= bytes) {
    auto left =
        static_cast<long>(static_cast<double>(static_cast<std::uint64_t>(total) - bytes) / rate);
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
      bar.c_str(), std::max(percent, 0), mib(static_cast<double>(bytes)).c_str(),
      total >= 0 ? mib(static_cast<double>(total)).c_str() : "?", mib(rate).c_str(), eta.c_str());
  std::fflush(stderr);
  drew_bar_ = true;
}

void progress_printer::done(std::uint64_t bytes, std::chrono::milliseconds elapsed,
                            std::uint64_t from_supernode, std::uint64_t from_peers,
                            std::uint64_t from_origin) {
  if (mode_ == progress_mode::json) {
    nlohmann::json j{{"event", "done"},
                     {"bytes", bytes},
                     {"elapsed_ms", elapsed.count()},
                     {"from_supernode", from_supernode},
                     {"from_peers", from_peers},
                     {"from_origin", from_origin}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  } else if (drew_bar_) {
    std::fprintf(stderr, "\n");
  }
}

void progress_printer::failed(int exit_code, const std::string& message) {
  if (mode_ == progress_mode::json) {
    nlohmann::json j{{"event", "error"}, {"exit_code", exit_code}, {"message", message}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  } else if (drew_bar_) {
    std::fprintf(stderr, "\n");
  }
}

}  // namespace damselfly::dfget
