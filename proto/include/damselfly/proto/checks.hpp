// SPDX-License-Identifier: Apache-2.0
// What a client checks in a supernode's answers before using a single number of them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "damselfly/proto/messages.hpp"

namespace damselfly::proto {

/// The largest piece the protocol allows.
inline constexpr std::uint64_t max_piece_size = 1ull << 30;
/// The largest file the protocol allows (16 TiB): a claim beyond is a lie.
inline constexpr std::int64_t max_content_length = std::int64_t{1} << 44;
/// More pieces held by peers than a replica can claim for one task (a
/// successor waits at most replica_grace whatever the claim; this only
/// refuses nonsense).
inline constexpr std::uint64_t max_replica_held = std::uint64_t{1} << 40;

/// Why a task_info cannot be trusted (empty when it can): a piece size and
/// length within the limits, and a piece count that matches them.
std::string check_task_info(const task_info& t);

/// Why a replica is unusable (empty: usable): a task id, a settled layout
/// within the limits, a run of digests within the task's pieces, each empty
/// or 64 hex, and bounded validators.
std::string check_replica(const task_replica& r);

/// Why an assignment does not fit its task's layout (empty when it does):
/// an existing piece, the offset and length of that piece, a SHA-256 in hex
/// (or none: the supernode checks the peer's), and a source that is the
/// supernode or a host:port.
std::string check_assignment(const assignment& a, const task_info& t);

/// Fills in the offset and length of compact assignments from the task's
/// layout; why it cannot (empty when it could): no known length, or a
/// piece beyond the end. check_assignment still judges the result.
std::string expand_compact(std::vector<assignment>& assigned, const task_info& t);

/// Why a sync answer's ticket cannot be sent on in a header (empty when it
/// can): at most 160 characters of digits, lowercase hex and '.'.
std::string check_ticket(std::string_view ticket);

/// A header a client asks to be sent to the origin that may not be: its
/// name and why, or nothing. Refused are names that are not HTTP tokens,
/// values with CR, LF or NUL (they would smuggle a second request), and
/// headers that change what the origin sends or how it is framed (Host,
/// Range, If-*, Accept-Encoding, TE, Transfer-Encoding, Content-Length,
/// Connection, Upgrade, Expect, Keep-Alive, Trailer, Proxy-Connection): the supernode
/// caches one copy of the file for everyone.
struct header_refusal {
  std::string name;
  std::string why;
};
std::optional<header_refusal> check_origin_headers(
    const std::map<std::string, std::string>& headers);

/// Headers that carry a client's credentials: Authorization,
/// Proxy-Authorization, Cookie, and the names in `extra` (any case).
bool is_credential_header(std::string_view name, const std::vector<std::string>& extra);

/// The credentials among `headers` in one canonical text (lowercased names,
/// sorted, "name:value" lines); empty when the request carries none. A
/// request with credentials makes a private task, bound to this text.
std::string credential_material(const std::map<std::string, std::string>& headers,
                                const std::vector<std::string>& extra);

}  // namespace damselfly::proto
