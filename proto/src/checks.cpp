// SPDX-License-Identifier: Apache-2.0
// Checks of task_info and assignments against limits and the task's layout.
#include "damselfly/proto/checks.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <string_view>

#include "damselfly/common/http_message.hpp"
#include "damselfly/common/piece_math.hpp"
#include "damselfly/common/task_id.hpp"

namespace damselfly::proto {

namespace {

/// 64 lowercase hex digits: a SHA-256 or an Ed25519 public key.
bool is_hex_64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_token(const std::string& s) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           extra.find(c) != std::string_view::npos;
  });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool changes_what_or_how_the_origin_sends(const std::string& name) {
  static const std::string_view fixed[] = {"host",
                                           "range",
                                           "if-range",
                                           "accept-encoding",
                                           "te",
                                           "transfer-encoding",
                                           "content-length",
                                           "connection",
                                           "upgrade",
                                           "expect",
                                           "keep-alive",
                                           "trailer",
                                           "proxy-connection"};
  auto n = lower(name);
  if (n.rfind("if-", 0) == 0) return true;
  return std::find(std::begin(fixed), std::end(fixed), n) != std::end(fixed);
}

}  // namespace

std::optional<header_refusal> check_origin_headers(
    const std::map<std::string, std::string>& headers) {
  for (const auto& [name, value] : headers) {
    if (!is_token(name)) return header_refusal{name, "is not a valid header name"};
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      return header_refusal{name, "has CR, LF or NUL in its value"};
    if (changes_what_or_how_the_origin_sends(name))
      return header_refusal{name, "changes what the origin sends or how; it is not passed on"};
  }
  return std::nullopt;
}

bool is_credential_header(std::string_view name, const std::vector<std::string>& extra) {
  static constexpr std::string_view built_in[] = {"authorization", "proxy-authorization", "cookie"};
  auto same = [&](std::string_view other) { return iequals(name, other); };
  return std::any_of(std::begin(built_in), std::end(built_in), same) ||
         std::any_of(extra.begin(), extra.end(), same);
}

std::string credential_material(const std::map<std::string, std::string>& headers,
                                const std::vector<std::string>& extra) {
  std::vector<std::string> lines;
  for (const auto& [name, value] : headers) {
    if (!is_credential_header(name, extra)) continue;
    std::string line;
    for (char c : name)
      line.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    lines.push_back(line + ":" + value + "\n");
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l;
  return out;
}

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
  // Stored with the task and shown to peers' tickets: a key, or nothing.
  if (!t.ticket_key.empty() && !is_hex_64(t.ticket_key)) return "ticket_key";
  return {};
}

std::string check_replica(const task_replica& r) {
  if (!is_valid_task_id(r.task_id)) return "task_id";
  task_info layout;
  layout.content_length = r.content_length;
  layout.piece_size = r.piece_size;
  if (r.content_length < 0) return "content_length " + std::to_string(r.content_length);
  if (r.piece_size == 0 && r.content_length > 0) return "piece_size 0 with a known length";
  layout.piece_count = r.piece_size == 0
                           ? 0
                           : static_cast<std::int64_t>(piece_count(
                                 static_cast<std::uint64_t>(r.content_length), r.piece_size));
  if (auto why = check_task_info(layout); !why.empty()) return why;
  auto count = static_cast<std::uint64_t>(layout.piece_count);
  if (r.first > count || r.digests.size() > count - r.first)
    return "digests: " + std::to_string(r.digests.size()) + " from piece " +
           std::to_string(r.first) + " of " + std::to_string(count);
  for (std::size_t i = 0; i < r.digests.size(); ++i)
    if (!r.digests[i].empty() && !is_hex_64(r.digests[i]))
      return "digests[" + std::to_string(i) + "]";
  if (!r.file_sha256.empty() && !is_hex_64(r.file_sha256)) return "file_sha256";
  if (r.version.size() > 512 || r.etag.size() > 512 || r.last_modified.size() > 64)
    return "validators too long";
  if (r.held > max_replica_held) return "held " + std::to_string(r.held);
  if (r.peers > max_replica_held) return "peers " + std::to_string(r.peers);
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
  // Empty: the supernode checks the digest the peer reports (report_digests).
  if (!a.sha256.empty() && !is_hex_64(a.sha256))
    return "sha256 of piece " + std::to_string(a.piece);
  if (a.source != supernode_source && !host_port::parse(a.source))
    return "source '" + a.source.substr(0, 64) + "'";
  return {};
}

std::string expand_compact(std::vector<assignment>& assigned, const task_info& t) {
  if (assigned.empty()) return {};
  if (t.content_length < 0 || t.piece_size == 0)
    return "compact assignments for a task of unknown length";
  auto length = static_cast<std::uint64_t>(t.content_length);
  for (auto& a : assigned) {
    if (a.piece >= piece_count(length, t.piece_size))
      return "piece " + std::to_string(a.piece) + " beyond the file's end";
    auto range = piece_at(a.piece, length, t.piece_size);
    a.offset = range.offset;
    a.length = range.length;
  }
  return {};
}

std::string check_ticket(std::string_view ticket) {
  if (ticket.size() > 160 || ticket.find_first_not_of("0123456789abcdef.") != ticket.npos)
    return "ticket";
  return {};
}

}  // namespace damselfly::proto
