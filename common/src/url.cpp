// SPDX-License-Identifier: Apache-2.0
// Boost.URL based parsing and normalization.
#include "damselfly/common/url.hpp"

#include <openssl/evp.h>
#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/url.hpp>
#include <charconv>

namespace damselfly {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

result<boost::urls::url> parse_absolute(std::string_view text) {
  auto parsed = boost::urls::parse_uri(trim(text));
  if (!parsed) return errc::invalid_argument;
  boost::urls::url u(*parsed);
  std::string scheme(u.scheme());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), ::tolower);
  if (scheme != "http" && scheme != "https") return errc::invalid_argument;
  if (!u.has_authority() || u.encoded_host().empty()) return errc::invalid_argument;
  if (u.has_userinfo()) return errc::invalid_argument;
  // Boost.URL 1.81 parses "http://h:80A/" as port 80 and a path "A/" that
  // does not start with "/" (RFC 3986 forbids it after an authority): such a
  // URL names no single resource, so it is refused.
  auto path = u.encoded_path();
  if (!path.empty() && path.front() != '/') return errc::invalid_argument;
  if (u.has_port()) {
    auto p = u.port();
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || ptr != p.data() + p.size() || v == 0 || v > 65535)
      return errc::invalid_argument;
  }
  return u;
}

}  // namespace

std::string http_url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

result<http_url> http_url::parse(std::string_view text) {
  auto u = parse_absolute(text);
  if (!u) return u.error();
  http_url out;
  out.scheme = std::string(u->scheme());
  std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(), ::tolower);
  if (u->host_type() == boost::urls::host_type::ipv6)
    out.host = u->host_ipv6_address().to_string();
  else
    out.host = u->host();
  if (u->has_port()) {
    auto p = u->port();
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || ptr != p.data() + p.size() || v == 0 || v > 65535)
      return errc::invalid_argument;
    out.port = static_cast<std::uint16_t>(v);
  } else {
    out.port = out.https() ? 443 : 80;
  }
  std::string target(u->encoded_path());
  if (target.empty()) target = "/";
  if (u->has_query()) target += "?" + std::string(u->encoded_query());
  out.target = std::move(target);
  out.text = std::string(trim(text));
  return out;
}

result<url_credentials> split_url_credentials(std::string_view text) {
  auto u = boost::urls::parse_uri(trim(text));
  if (!u) return errc::invalid_argument;
  url_credentials out;
  if (!u->has_userinfo()) {
    out.url = std::string(trim(text));
    return out;
  }
  out.user = u->user();
  out.password = u->password();
  boost::urls::url stripped(*u);
  stripped.remove_userinfo();
  out.url = std::string(stripped.buffer());
  return out;
}

std::string basic_authorization(std::string_view user, std::string_view password) {
  std::string plain = std::string(user) + ":" + std::string(password);
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                          reinterpret_cast<const unsigned char*>(plain.data()),
                          static_cast<int>(plain.size()));
  encoded.resize(static_cast<std::size_t>(n));
  return "Basic " + encoded;
}

result<std::string> resolve_url_reference(std::string_view base, std::string_view ref) {
  auto b = boost::urls::parse_uri(base);
  auto r = boost::urls::parse_uri_reference(ref);
  if (!b || !r) return errc::invalid_argument;
  boost::urls::url dest;
  if (!boost::urls::resolve(*b, *r, dest)) return errc::invalid_argument;
  dest.remove_fragment();
  return std::string(dest.buffer());
}

std::string url_file_name(std::string_view text) {
  auto u = boost::urls::parse_uri(text);
  if (!u) return {};
  auto segments = u->encoded_segments();
  if (segments.empty()) return {};
  auto last = *std::prev(segments.end());
  std::string name = last.decode();
  if (name.empty() || name == "." || name == ".." ||
      name.find_first_of(std::string_view("/\0", 2)) != std::string::npos)
    return {};
  return name;
}

result<std::string> normalize_url(std::string_view text, const std::vector<std::string>& filters) {
  auto u = parse_absolute(text);
  if (!u) return u.error();
  u->remove_fragment();
  if (!filters.empty() && u->has_query()) {
    // The query is split by hand: Boost.URL 1.81's params iterator crashes on
    // some queries (found by fuzz_url: "http://h?#x" with filters).
    std::string query(u->encoded_query()), kept;
    for (std::size_t pos = 0; pos <= query.size();) {
      auto amp = query.find('&', pos);
      if (amp == std::string::npos) amp = query.size();
      std::string_view part(query.data() + pos, amp - pos);
      auto key = part.substr(0, part.find('='));
      auto decoded = boost::urls::make_pct_string_view(key);
      std::string name = decoded ? decoded->decode() : std::string(key);
      bool drop = std::find(filters.begin(), filters.end(), name) != filters.end();
      if (!drop && !part.empty()) kept += (kept.empty() ? "" : "&") + std::string(part);
      pos = amp + 1;
    }
    if (kept.empty())
      u->remove_query();
    else
      u->set_encoded_query(kept);
  }
  // An empty path is "/" (RFC 9110 §4.2.3). Set before normalize(): set
  // after it, Boost.URL 1.81 writes "/./", and "http://h" and "http://h/"
  // became different tasks.
  if (u->encoded_path().empty()) u->set_encoded_path("/");
  u->normalize();
  bool default_port = u->has_port() && ((u->scheme() == "http" && u->port() == "80") ||
                                        (u->scheme() == "https" && u->port() == "443"));
  if (default_port) u->remove_port();
  return std::string(u->buffer());
}

std::vector<std::string> split_filter_list(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == '&' || c == ';' || c == ',') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else if (c != ' ') {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace damselfly
