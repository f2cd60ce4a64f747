// SPDX-License-Identifier: Apache-2.0
// Header lookup, query parsing and small helpers for the plain HTTP types.
#include "damselfly/common/http_message.hpp"

#include <strings.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

namespace damselfly {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  if (text.size() > 64) return std::nullopt;
  const std::string copy(text);
  // The C locale's names are HTTP's (strptime reads them by the locale).
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(copy.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') return static_cast<std::int64_t>(::timegm(&tm));
  }
  return std::nullopt;
}

namespace {

http_response with_body(unsigned status, const char* content_type, std::string body) {
  http_response r;
  r.status = status;
  r.headers.set("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

}  // namespace

std::optional<std::string_view> http_headers::get(std::string_view name) const {
  for (const auto& [k, v] : fields_)
    if (iequals(k, name)) return std::string_view(v);
  return std::nullopt;
}

void http_headers::set(std::string_view name, std::string value) {
  erase(name);
  fields_.emplace_back(std::string(name), std::move(value));
}

void http_headers::erase(std::string_view name) {
  std::erase_if(fields_, [&](const auto& f) { return iequals(f.first, name); });
}

std::string_view http_request::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::optional<std::string_view> http_request::query_param(std::string_view name) const {
  std::string_view t = target;
  auto q = t.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = t.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

http_response http_response::text(unsigned status, std::string body) {
  return with_body(status, "text/plain; charset=utf-8", std::move(body));
}

http_response http_response::json(unsigned status, std::string body) {
  return with_body(status, "application/json", std::move(body));
}

http_response http_response::error(unsigned status, std::string_view code, std::string_view message,
                                   std::string_view field) {
  nlohmann::json e{{"code", code}, {"message", message}};
  if (!field.empty()) e["field"] = field;
  // Messages may quote what a client sent: never let invalid UTF-8 break the answer.
  return json(status, nlohmann::json{{"error", e}}.dump(-1, ' ', false,
                                                        nlohmann::json::error_handler_t::replace));
}

std::string host_port::to_string() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<host_port> host_port::parse(std::string_view text) {
  host_port out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty() || port_text.empty()) return std::nullopt;
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || v > 65535)
    return std::nullopt;
  out.port = static_cast<std::uint16_t>(v);
  return out;
}

std::string_view reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

}  // namespace damselfly
