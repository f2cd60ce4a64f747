// SPDX-License-Identifier: Apache-2.0
// Token bucket and size parsing.
#include "damselfly/common/rate_limiter.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>

namespace damselfly {

rate_limiter::rate_limiter(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes,
                           clock::time_point now)
    : rate_(rate_bytes_per_s),
      burst_(static_cast<double>(std::max<std::uint64_t>(burst_bytes, 1))),
      tokens_(burst_),
      last_(now) {}

void rate_limiter::refill(clock::time_point now) {
  if (now <= last_) return;
  double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * static_cast<double>(rate_.load()));
  last_ = now;
}

rate_limiter::clock::duration rate_limiter::acquire(std::uint64_t bytes, clock::time_point now) {
  std::lock_guard lock(mu_);
  if (rate_ == 0) return clock::duration::zero();
  refill(now);
  tokens_ -= static_cast<double>(bytes);
  if (tokens_ >= 0) return clock::duration::zero();
  double wait_s = -tokens_ / static_cast<double>(rate_.load());
  return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(wait_s));
}

void rate_limiter::set_rate(std::uint64_t rate_bytes_per_s, clock::time_point now) {
  std::lock_guard lock(mu_);
  refill(now);
  rate_ = rate_bytes_per_s;
}

std::function<std::chrono::nanoseconds(std::uint64_t)> make_pacer(
    std::shared_ptr<rate_limiter> limiter) {
  return [limiter = std::move(limiter)](std::uint64_t bytes) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
        limiter->acquire(bytes, rate_limiter::clock::now()));
  };
}

namespace {

/// The non-negative number `text` starts with (spaces around ignored), and
/// in `rest` what follows it (a unit).
std::optional<double> leading_number(std::string_view text, std::string_view& rest) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0 || !std::isfinite(value)) return std::nullopt;
  rest = std::string_view(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  return value;
}

}  // namespace

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::string_view unit;
  auto number = leading_number(text, unit);
  if (!number) return errc::invalid_argument;
  double value = *number;
  double ms_per = 0;
  if (unit.empty() || unit == "s")
    ms_per = 1000;
  else if (unit == "ms")
    ms_per = 1;
  else if (unit == "m")
    ms_per = 60'000;
  else if (unit == "h")
    ms_per = 3'600'000;
  else
    return errc::invalid_argument;
  double ms = value * ms_per;
  if (ms > 1e12) return errc::invalid_argument;  // beyond thirty years is a typo
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

result<std::uint64_t> parse_size(std::string_view text) {
  std::string_view suffix;
  auto number = leading_number(text, suffix);
  if (!number) return errc::invalid_argument;
  double value = *number;
  std::uint64_t mult = 1;
  if (!suffix.empty()) {
    switch (std::toupper(static_cast<unsigned char>(suffix.front()))) {
      case 'K':
        mult = 1ull << 10;
        break;
      case 'M':
        mult = 1ull << 20;
        break;
      case 'G':
        mult = 1ull << 30;
        break;
      case 'T':
        mult = 1ull << 40;
        break;
      case 'B':
        mult = 1;
        break;
      default:
        return errc::invalid_argument;
    }
    if (std::toupper(static_cast<unsigned char>(suffix.front())) != 'B') suffix.remove_prefix(1);
    if (suffix == "iB" || suffix == "ib" || suffix == "B" || suffix == "b") suffix = {};
    if (!suffix.empty()) return errc::invalid_argument;
  }
  double bytes = value * static_cast<double>(mult);
  if (bytes > 1.8e19) return errc::invalid_argument;
  return static_cast<std::uint64_t>(bytes);
}

}  // namespace damselfly
