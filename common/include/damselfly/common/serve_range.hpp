// SPDX-License-Identifier: Apache-2.0
// One answer to GET /pieces for both piece servers: Range checks, 206/416, a sendfile slice.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "damselfly/common/http_message.hpp"
#include "damselfly/common/piece_math.hpp"

namespace damselfly {

/// What a piece server holds of one file.
struct range_source {
  std::shared_ptr<const unique_fd> fd;
  /// The file's length, when known; otherwise ranges are resolved against `extent`
  /// and answered with an unknown total ("bytes A-B/*").
  std::optional<std::uint64_t> length;
  std::uint64_t extent = 0;  ///< bytes addressable while the length is unknown
  /// A request without Range gets the whole file (200) when this is set; else 404.
  bool whole_file_ready = false;
  /// Whether every byte of the range is held and verified; nothing else is served.
  std::function<bool(const piece_range&)> holds;
};

/// Answers a GET/HEAD for `src`: 206 with Content-Range and a file slice, 200
/// for the whole file, 416 (with `bytes */LEN` when the length is known), 400
/// for a malformed or multi-range header, 404 `not_ready` for what is not held.
/// The caller adds accounting (`file->on_sent`) and pacing (`file->pace`).
http_response serve_range(const http_request& req, const range_source& src);

}  // namespace damselfly
