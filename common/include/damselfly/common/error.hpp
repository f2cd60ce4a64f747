// SPDX-License-Identifier: Apache-2.0
// Damselfly's error category: domain failures carried as error_code values.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <string_view>

namespace damselfly {

using boost::system::error_code;
template <class T>
using result = boost::system::result<T, error_code>;

/// Domain failures. Values are stable: they appear in logs and JSON error answers.
enum class errc {
  ok = 0,
  invalid_argument = 1,  ///< bad user input (flag, URL, digest spelling)
  bad_request = 2,       ///< a peer sent a malformed or incomplete message
  not_found = 3,         ///< no such task, piece or path
  range_not_satisfiable = 4,
  origin_http_error = 5,   ///< the origin answered with a non-success status
  origin_unreachable = 6,  ///< connect/DNS failure towards the origin
  origin_protocol = 7,  ///< the origin's answer did not make sense (short body, bad Content-Range)
  source_changed = 8,   ///< ETag/Last-Modified/length changed while fetching
  digest_mismatch = 9,
  timeout = 10,
  io_error = 11,        ///< local disk error
  protocol_error = 12,  ///< the supernode or a peer broke the protocol
  task_failed = 13,     ///< the supernode reports the task as failed
  supernode_unreachable = 14,
  too_many_failures = 15,
  cancelled = 16,
  busy = 17,              ///< someone else holds the resource (a lock, a resumable download)
  origin_forbidden = 18,  ///< the origin resolves only to addresses the policy refuses
};

/// The category behind errc; name() is "damselfly".
const boost::system::error_category& damselfly_category() noexcept;

/// The stable name of a damselfly error ("digest_mismatch"); "failed" for
/// codes of other categories.
std::string_view error_name(const error_code& ec) noexcept;

inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), damselfly_category()};
}

}  // namespace damselfly

template <>
struct boost::system::is_error_code_enum<damselfly::errc> : std::true_type {};
