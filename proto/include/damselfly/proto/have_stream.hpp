// SPDX-License-Identifier: Apache-2.0
// The have stream of the parent-set protocol: what a parent tells its children it holds.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace damselfly::proto {

/// A daemon serves each child that asks (GET /haves/{task}) a stream of
/// text lines: "b BITMAP" first (encode_bitmap of the pieces it holds),
/// then the number of each piece it verifies from then on, and empty lines
/// now and then to keep the connection alive.
std::string have_stream_start(const std::vector<bool>& held);
std::string have_stream_piece(std::uint64_t piece);
inline constexpr std::string_view have_stream_keepalive = "\n";
/// The request header of GET /haves naming the asker's upload address
/// ("host:port"): a parent that follows the asker's own have stream leaves
/// out the pieces the asker said it holds. Only a hint: a peer naming
/// another hears less itself, and nothing else.
inline constexpr std::string_view upload_addr_header = "X-Damselfly-Upload-Addr";

/// Reads a have stream as it arrives; every byte is the sender's. A stream
/// that does not start with its bitmap, a bitmap of another length than the
/// task's, a piece number past the task, anything but digits, or a line
/// longer than the bitmap needs ends it with an error.
class have_stream_reader {
 public:
  explicit have_stream_reader(std::uint64_t piece_count) : count_(piece_count) {}

  /// Takes the next bytes and tells `held` of each piece the sender holds
  /// (a piece may be told twice). Returns why the stream is refused, or ""
  /// while it is fine; once refused it stays so.
  std::string feed(std::string_view bytes, const std::function<void(std::uint64_t)>& held);

 private:
  std::string line(std::string_view text, const std::function<void(std::uint64_t)>& held);

  std::uint64_t count_;
  std::string partial_;
  bool started_ = false;
  std::string error_;
};

}  // namespace damselfly::proto
