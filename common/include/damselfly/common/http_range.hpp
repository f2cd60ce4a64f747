// SPDX-License-Identifier: Apache-2.0
// HTTP Range / Content-Range parsing for single byte ranges (RFC 9110 §14).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "damselfly/common/error.hpp"
#include "damselfly/common/piece_math.hpp"

namespace damselfly {

/// Resolves a Range header value against a representation of `length` bytes.
/// Accepts "bytes=A-B", "bytes=A-" and "bytes=-N". Returns
/// errc::bad_request for syntax errors and multiple ranges, and
/// errc::range_not_satisfiable when the range lies outside the content.
result<piece_range> parse_range_header(std::string_view value, std::uint64_t length);

/// "bytes=A-B" for a non-empty range: the value of a Range request header.
std::string format_range_request(const piece_range& r);

/// "bytes A-B/LEN" for a 206 answer.
std::string format_content_range(const piece_range& r, std::uint64_t length);

/// A parsed Content-Range: the range and, when the server said it, the full length.
struct content_range {
  std::optional<piece_range> range;    ///< absent for "bytes */LEN"
  std::optional<std::uint64_t> total;  ///< absent for "bytes A-B/*"
};

/// Parses a Content-Range header value; errc::bad_request when malformed.
result<content_range> parse_content_range(std::string_view value);

}  // namespace damselfly
