// SPDX-License-Identifier: Apache-2.0
// Checks of task_info and assignments against limits and the task's layout.
#include "damselfly/proto/checks.hpp"

#include <algorithm>

#include "damselfly/common/http_message.hpp"
#include "damselfly/common/piece_math.hpp"

namespace damselfly::proto {

namespace {

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string check_task_info(const task_info& t) {
  if (t.piece_size > max_piece_size) return "piece_size " + std::to_string(t.piece_size);
  if (t.content_length < -1 || t.content_length > max_content_length)
    return "content_length " + std::to_string(t.content_length);
  if (t.content_length >= 0 && t.piece_size == 0) return "piece_size 0 with a known length";
  std::int64_t expected = -1;
  if (t.content_length >= 0)
    expected = static_cast<std::int64_t>(
        piece_count(static_cast<std::uint64_t>(t.content_length), t.piece_size));
  if (t.piece_count != expected)
    return "piece_count " + std::to_string(t.piece_count) + " (the layout gives " +
           std::to_string(expected) + ")";
  return {};
}

std::string check_assignment(const assignment& a, const task_info& t) {
  if (t.piece_size == 0) return "an assignment before the layout is known";
  if (t.piece_count >= 0 && a.piece >= static_cast<std::uint64_t>(t.piece_count))
    return "piece " + std::to_string(a.piece) + " of " + std::to_string(t.piece_count);
  if (a.piece > (std::uint64_t{1} << 44) / t.piece_size || a.offset != a.piece * t.piece_size)
    return "offset " + std::to_string(a.offset) + " of piece " + std::to_string(a.piece);
  std::uint64_t length = t.piece_size;
  if (t.content_length >= 0)
    length = piece_at(a.piece, static_cast<std::uint64_t>(t.content_length), t.piece_size).length;
  if (t.content_length >= 0 ? a.length != length : a.length > length)
    return "length " + std::to_string(a.length) + " of piece " + std::to_string(a.piece);
  if (!is_sha256_hex(a.sha256)) return "sha256 of piece " + std::to_string(a.piece);
  if (a.source != supernode_source && !host_port::parse(a.source))
    return "source '" + a.source.substr(0, 64) + "'";
  return {};
}

}  // namespace damselfly::proto
