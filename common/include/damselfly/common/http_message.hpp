// SPDX-License-Identifier: Apache-2.0
// Plain HTTP request/response types that handlers see instead of Beast's templates.
#pragma once

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "damselfly/common/unique_fd.hpp"

namespace damselfly {

/// Whether two ASCII strings are equal ignoring case (header names).
bool iequals(std::string_view a, std::string_view b);

/// Seconds since the epoch of an HTTP date (RFC 9110: IMF-fixdate, and the
/// obsolete RFC 850 and asctime forms); nullopt for anything else.
std::optional<std::int64_t> parse_http_date(std::string_view text);

/// Names the header fields a server keeps for a connection (its first answer
/// on each connection says which, comma-separated): sent once on a
/// connection, they apply to its later requests that leave them out. A
/// client leaves out only what the server said it keeps and what it already
/// sent there with the same value; a server that never said so gets every
/// field every time.
inline constexpr std::string_view kept_headers_header = "X-Damselfly-Kept-Headers";

/// Ordered header fields with case-insensitive lookup.
class http_headers {
 public:
  /// First value of `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const;
  /// Replaces every field called `name` with one.
  void set(std::string_view name, std::string value);
  void add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  void erase(std::string_view name);
  const std::vector<std::pair<std::string, std::string>>& fields() const noexcept {
    return fields_;
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

/// A request as a handler or the client sees it.
struct http_request {
  std::string method = "GET";
  std::string target = "/";  ///< origin-form: path and query
  http_headers headers;
  std::string body;
  std::string remote;          ///< "ip:port" of the peer (server side)
  std::string remote_address;  ///< the peer's IP address alone (server side)
  /// What the server's prepare hook made of the request on the connection's
  /// thread (a decoded body, say) for the handler; empty without one.
  std::any prepared;

  /// The path part of the target, without the query.
  std::string_view path() const;
  /// The value of query parameter `name` (not percent-decoded), if present.
  std::optional<std::string_view> query_param(std::string_view name) const;
};

/// A read-only slice of an open file, sent with sendfile.
struct file_slice {
  std::shared_ptr<const unique_fd> fd;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  /// Told, once the send ends (completed or not), how many bytes reached the socket.
  std::function<void(std::uint64_t)> on_sent;
  /// Asked before each chunk how long to wait before sending `bytes` (rate limiting).
  std::function<std::chrono::nanoseconds(std::uint64_t bytes)> pace;
  /// Plain TCP: the send ends (on_sent, and the response) only once the
  /// peer acknowledged every byte, not when the last byte was written.
  bool until_acked = false;
};

/// A body sent as it is produced (http_server.hpp; this header stays free
/// of Asio for the libraries that must not do I/O).
class http_stream;

/// A response a handler returns: a string body, a file slice, or a stream.
struct http_response {
  unsigned status = 200;
  http_headers headers;
  std::string body;
  std::optional<file_slice> file;
  std::shared_ptr<http_stream> stream;  ///< when set, the body (`body` is ignored)

  static http_response text(unsigned status, std::string body);
  static http_response json(unsigned status, std::string body);
  /// The one error shape of every JSON answer that is not 2xx:
  /// `{"error": {"code": ..., "message": ..., "field": ...}}` (field only when set).
  static http_response error(unsigned status, std::string_view code, std::string_view message,
                             std::string_view field = {});
};

/// Parses "host:port" / "[v6]:port"; port 0 is allowed (pick any).
struct host_port {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;
  static std::optional<host_port> parse(std::string_view text);
};

/// Standard reason phrase for a status code.
std::string_view reason_phrase(unsigned status) noexcept;

}  // namespace damselfly
