// SPDX-License-Identifier: Apache-2.0
// Parsing and normalizing http(s) source URLs with Boost.URL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "damselfly/common/error.hpp"

namespace damselfly {

/// An absolute http or https URL split into what a client needs to connect.
struct http_url {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< without brackets for IPv6
  std::uint16_t port = 0;
  std::string target;  ///< path and query, at least "/"
  std::string text;    ///< the URL as given, trimmed

  bool https() const noexcept { return scheme == "https"; }
  /// "host:port", bracketing IPv6 literals.
  std::string authority() const;

  /// Accepts absolute http/https URLs with a host; anything else is invalid_argument.
  static result<http_url> parse(std::string_view text);
};

/// The URL in canonical form for task identity: lowercase scheme and host,
/// default port dropped, percent-encoding normalized, fragment removed, and
/// query parameters named in `filters` removed (they vary per request, like
/// signed-URL expiry, without changing the content).
result<std::string> normalize_url(std::string_view text, const std::vector<std::string>& filters);

/// A URL's "user:password@" part, taken out: the URL without it, and the
/// decoded user and password (both empty when it had none).
struct url_credentials {
  std::string url;
  std::string user;
  std::string password;
};
result<url_credentials> split_url_credentials(std::string_view text);

/// "Basic BASE64(user:password)", an Authorization header value.
std::string basic_authorization(std::string_view user, std::string_view password);

/// `ref` (a Location header: absolute, or relative to `base`) resolved
/// against `base`, without its fragment; invalid_argument when either does
/// not parse.
result<std::string> resolve_url_reference(std::string_view base, std::string_view ref);

/// The last segment of the URL's path, percent-decoded, as wget names its
/// output ("a%20b.tar" gives "a b.tar"); empty when the path ends in "/" or
/// the segment is not a usable file name ("..", or a decoded '/' or NUL).
std::string url_file_name(std::string_view text);

/// Splits "a&b;c" or "a,b" style filter lists into names (Dragonfly spells them "a&b").
std::vector<std::string> split_filter_list(std::string_view text);

}  // namespace damselfly
