// SPDX-License-Identifier: Apache-2.0
// Byte range parsing.
#include "damselfly/common/http_range.hpp"

#include <charconv>

namespace damselfly {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

result<piece_range> parse_range_header(std::string_view value, std::uint64_t length) {
  value = trim(value);
  constexpr std::string_view unit = "bytes=";
  if (value.size() < unit.size() || value.substr(0, unit.size()) != unit) return errc::bad_request;
  auto spec = trim(value.substr(unit.size()));
  if (spec.find(',') != std::string_view::npos) return errc::bad_request;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return errc::bad_request;
  auto first_text = trim(spec.substr(0, dash));
  auto last_text = trim(spec.substr(dash + 1));
  if (first_text.empty()) {
    // Suffix form: the final N bytes.
    auto n = parse_u64(last_text);
    if (!n) return errc::bad_request;
    if (*n == 0 || length == 0) return errc::range_not_satisfiable;
    std::uint64_t take = std::min(*n, length);
    return piece_range{length - take, take};
  }
  auto first = parse_u64(first_text);
  if (!first) return errc::bad_request;
  std::uint64_t last = 0;
  if (last_text.empty()) {
    last = length == 0 ? 0 : length - 1;
  } else {
    auto l = parse_u64(last_text);
    if (!l || *l < *first) return errc::bad_request;
    last = std::min(*l, length == 0 ? 0 : length - 1);
  }
  if (*first >= length) return errc::range_not_satisfiable;
  return piece_range{*first, last - *first + 1};
}

std::string format_range_request(const piece_range& r) {
  return "bytes=" + std::to_string(r.offset) + "-" + std::to_string(r.end() - 1);
}

std::string format_content_range(const piece_range& r, std::uint64_t length) {
  return "bytes " + std::to_string(r.offset) + "-" + std::to_string(r.end() - 1) + "/" +
         std::to_string(length);
}

result<content_range> parse_content_range(std::string_view value) {
  value = trim(value);
  constexpr std::string_view unit = "bytes ";
  if (value.substr(0, unit.size()) != unit) return errc::bad_request;
  auto rest = trim(value.substr(unit.size()));
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return errc::bad_request;
  auto range_text = trim(rest.substr(0, slash));
  auto total_text = trim(rest.substr(slash + 1));
  content_range out;
  if (total_text != "*") {
    auto total = parse_u64(total_text);
    if (!total) return errc::bad_request;
    out.total = *total;
  }
  if (range_text != "*") {
    auto dash = range_text.find('-');
    if (dash == std::string_view::npos) return errc::bad_request;
    auto a = parse_u64(range_text.substr(0, dash));
    auto b = parse_u64(range_text.substr(dash + 1));
    if (!a || !b || *b < *a) return errc::bad_request;
    if (out.total && *b >= *out.total) return errc::bad_request;
    out.range = piece_range{*a, *b - *a + 1};
  } else if (!out.total) {
    return errc::bad_request;
  }
  return out;
}

}  // namespace damselfly
