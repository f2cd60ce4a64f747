// SPDX-License-Identifier: Apache-2.0
// Range answers shared by the supernode's and the daemons' piece servers.
#include "damselfly/common/serve_range.hpp"

#include "damselfly/common/http_range.hpp"

namespace damselfly {

http_response serve_range(const http_request& req, const range_source& src) {
  const std::uint64_t length = src.length.value_or(src.extent);
  piece_range range{0, length};
  auto header = req.headers.get("Range");
  if (header) {
    auto parsed = parse_range_header(*header, length);
    if (!parsed) {
      if (parsed.error() == errc::range_not_satisfiable) {
        auto resp = http_response::error(416, "range_not_satisfiable", "range outside the content");
        if (src.length) resp.headers.set("Content-Range", "bytes */" + std::to_string(length));
        return resp;
      }
      return http_response::error(400, "bad_request", "malformed or multiple Range", "Range");
    }
    range = *parsed;
  } else if (!src.whole_file_ready) {
    return http_response::error(404, "not_ready", "whole file requested before it is held");
  }
  if (!src.fd || (range.length > 0 && !src.holds(range)))
    return http_response::error(404, "not_ready", "range not held whole");
  http_response resp;
  resp.status = header ? 206 : 200;
  resp.headers.set("Content-Type", "application/octet-stream");
  if (header && src.length) {
    resp.headers.set("Content-Range", format_content_range(range, length));
  } else if (header) {
    resp.headers.set("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                          std::to_string(range.end() - 1) + "/*");
  }
  resp.file = file_slice{src.fd, range.offset, range.length, {}, {}};
  return resp;
}

}  // namespace damselfly
