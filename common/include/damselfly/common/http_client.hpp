// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 client over one keep-alive connection, with deadlines and streamed bodies.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "damselfly/common/error.hpp"
#include "damselfly/common/http_message.hpp"

namespace damselfly {

class tls_context;

struct http_client_options {
  std::chrono::milliseconds connect_timeout{10'000};
  /// Longest wait for any single read or write to make progress.
  std::chrono::milliseconds io_timeout{30'000};
  std::size_t max_header_bytes = 64 * 1024;
  /// Set for HTTPS: connections are TLS, verified as the context says (the
  /// host name is checked against the certificate).
  std::shared_ptr<const tls_context> tls;
  /// Asked for every resolved address before connecting to it (host, IP,
  /// port): a non-empty answer says why it is refused. When every address is
  /// refused the request fails with errc::origin_forbidden. Empty: all allowed.
  std::function<std::string(std::string_view host, std::string_view ip, std::uint16_t port)>
      vet_address;
  /// A rate cap on bodies read as a stream: told the bytes of each read,
  /// answers how long to pause before the next (null: no cap).
  std::function<std::chrono::nanoseconds(std::uint64_t bytes)> pace;
};

/// Status line and headers of a response.
struct response_head {
  unsigned status = 0;
  std::string reason;
  http_headers headers;
  std::optional<std::uint64_t> content_length;  ///< absent for chunked or close-delimited bodies
};

/// A response with its body collected in memory.
struct http_client_response {
  response_head head;
  std::string body;
};

/// Receives the body in order, chunk by chunk; an error stops the transfer.
using body_sink = std::function<error_code(std::span<const std::byte>)>;
/// Sees the head before the body; an error stops the transfer.
using head_check = std::function<error_code(const response_head&)>;

/// A connection to one host:port, reopened as needed. Requests are sequential:
/// use one client per concurrent request. Timeouts surface as errc::timeout.
class http_client {
 public:
  http_client(boost::asio::any_io_executor ex, std::string host, std::uint16_t port,
              http_client_options opts = {});
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Sends `req` (Host and Content-Length are filled in), shows the head to
  /// `check`, then streams the body into `sink`. A reused connection that
  /// turns out to be closed by the server is reopened once.
  boost::asio::awaitable<result<response_head>> request(const http_request& req,
                                                        const head_check& check,
                                                        const body_sink& sink);

  /// Like request() but collects the body; bodies over `max_body` fail.
  boost::asio::awaitable<result<http_client_response>> fetch(const http_request& req,
                                                             std::size_t max_body = 64u << 20);

  /// Reads a body of exactly `dest.size()` bytes straight into `dest` (no
  /// intermediate copy). `check` sees the head first and may reject it; a head
  /// announcing another length is errc::protocol_error. `received` hears
  /// of each read's byte count as the body lands, in order from the start of
  /// `dest` (what came with the head first): the bytes so far are a prefix.
  boost::asio::awaitable<result<response_head>> fetch_into(
      const http_request& req, std::span<std::byte> dest, const head_check& check = {},
      const std::function<void(std::size_t)>& received = {});

  /// Drops the connection (the next request reconnects).
  void close();
  const std::string& host() const noexcept;
  std::uint16_t port() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace damselfly
