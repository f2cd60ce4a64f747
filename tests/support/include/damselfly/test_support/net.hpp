// SPDX-License-Identifier: Apache-2.0
// Blocking loopback helpers for tests: free ports and raw HTTP exchanges.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace damselfly::test {

/// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();

/// This process's socket from local port `local` to peer port `peer` on
/// loopback (-1: none found).
int socket_between(std::uint16_t local, std::uint16_t peer);

/// Segments with data the socket `fd` has sent so far, pure ACKs aside
/// (TCP_INFO; -1 when unknown).
long tcp_data_segments_out(int fd);

/// A parsed HTTP answer from raw_http().
struct raw_response {
  int status = 0;    ///< 0 when nothing parseable came back
  std::string head;  ///< status line and headers
  std::string body;
  std::string header(const std::string& name) const;  ///< first value or ""
  /// The body without its chunked transfer-coding when the head names one
  /// (servers other than ours, such as Prometheus, chunk larger answers).
  std::string decoded_body() const;
};

/// Sends `request` bytes verbatim to 127.0.0.1:port and reads until the peer
/// closes or `timeout` passes. For well-formed exchanges send "Connection: close".
raw_response raw_http(std::uint16_t port, const std::string& request,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10),
                      const std::string& host = "127.0.0.1");

/// The header line that presents `token`: "Authorization: Bearer TOKEN\r\n".
std::string bearer_header(const std::string& token);

/// GET `target` with Connection: close (and optional extra header lines, each ending in \r\n).
raw_response http_get(std::uint16_t port, const std::string& target, const std::string& extra = "",
                      const std::string& host = "127.0.0.1");

/// POST of a JSON body with Connection: close (and extra header lines, each ending in \r\n).
raw_response post_json(std::uint16_t port, const std::string& target, const std::string& body,
                       const std::string& extra = "");

/// A TCP connection to 127.0.0.1 that a test holds open: to take a server's
/// connection slots, or to send a request and then not read the answer.
class held_connection {
 public:
  /// `receive_buffer` (bytes, 0: the system's) is set before connecting:
  /// a small one keeps what the server sends unacknowledged while unread.
  explicit held_connection(std::uint16_t port, int receive_buffer = 0,
                           const std::string& ip = "127.0.0.1");
  ~held_connection();
  held_connection(const held_connection&) = delete;
  held_connection& operator=(const held_connection&) = delete;
  bool connected() const noexcept { return fd_ >= 0; }
  /// Sends all of `bytes` (false if the connection failed).
  bool send(const std::string& bytes);
  /// What the server sends next: waits up to `timeout` for some bytes
  /// (empty when it sent nothing or closed the connection).
  std::string read_some(std::chrono::milliseconds timeout);
  /// Whether the server closes this connection within `timeout` (reads
  /// and discards anything it sends first).
  bool closed_by_server(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

/// The value of an unlabeled (or exactly labeled) series in Prometheus text; -1 when absent.
double metric(const std::string& metrics_text, const std::string& series);

}  // namespace damselfly::test
