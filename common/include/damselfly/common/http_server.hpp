// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 server: one coroutine per connection, deadlines, size limits, sendfile.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "damselfly/common/error.hpp"
#include "damselfly/common/http_message.hpp"

namespace damselfly {

class tls_server_context;

/// A response body sent chunked, part by part as it is produced: the server
/// asks next() until it answers nullopt (the end). An empty part means
/// "nothing yet": the server ends the stream if it is stopping and asks
/// again otherwise. next() must answer within part_wait.
class http_stream {
 public:
  static constexpr std::chrono::seconds part_wait{30};
  virtual ~http_stream() = default;
  virtual boost::asio::awaitable<std::optional<std::string>> next() = 0;
};

struct http_server_options {
  std::size_t max_header_bytes = 16 * 1024;  ///< larger heads get 431
  std::size_t max_body_bytes = 1 << 20;      ///< larger bodies get 413
  /// Time allowed to receive one whole request once its first byte arrived.
  std::chrono::milliseconds read_timeout{30'000};
  /// Time a keep-alive connection may sit idle between requests.
  std::chrono::milliseconds idle_timeout{60'000};
  /// Time a response write may go without progress before the peer is dropped.
  std::chrono::milliseconds write_timeout{60'000};
  std::size_t max_connections = 10'000;  ///< further connections are closed at once
  /// Connections one client address may hold open; further ones are closed at
  /// once, so one host cannot take every slot (0: no per-address limit).
  std::size_t max_connections_per_address = 0;
  /// Sent as the Server header when not empty. Empty by default: it is 19
  /// bytes on every sync answer, on the supernode's busiest link, and tells
  /// a stranger only what to attack.
  std::string server_name;
  /// Where handlers run, when not where the connections do. A server whose
  /// connections run on a pool of threads (requests read and answers and
  /// file slices written on all of them) keeps its handlers, with the state
  /// they share, on one single-threaded executor: each handler is started
  /// there and its answer comes back to the connection's thread. A file
  /// slice's on_sent is called there, and the slice and a stream are
  /// released there; a stream's next() runs there; a slice's pace must be
  /// thread-safe. The server keeps work on this executor counted while any
  /// connection is open, so a run() of its context returns only after the
  /// last connection ended. Empty: handlers run on the connections' threads.
  boost::asio::any_io_executor handler_executor;
  /// Where accepted connections run, taken in turn (io_context_pool's
  /// executors: each connection then stays on one thread). Empty: on the
  /// server's executor.
  std::vector<boost::asio::any_io_executor> connection_executors;
  /// Called on the connection's thread with each request before its
  /// handler starts: work on the request alone (it must touch no shared
  /// state), such as decoding the body into http_request::prepared, done
  /// there rather than on the handlers' one thread. Empty: nothing.
  std::function<void(http_request&)> prepare;
  /// Header fields each connection keeps (kept_headers_header): a request
  /// that leaves one out is handled as if it carried the value last sent on
  /// its connection. Credentials that every request to a peer repeats (a
  /// token, a ticket: about 290 bytes of a 530-byte piece request) then
  /// cross the link once per connection. A request is checked exactly as
  /// before; only its bytes on the wire change. Empty: nothing is kept.
  std::vector<std::string> kept_headers;
};

/// Handlers get the parsed request and return the response; a thrown
/// exception becomes a 500 (it is a bug, and is logged).
using http_handler = std::function<boost::asio::awaitable<http_response>(http_request&)>;

/// Accepts connections and runs `handler` for each request. Each connection
/// runs on its own strand, so the io_context may have several threads.
class http_server {
 public:
  http_server(boost::asio::any_io_executor ex, http_handler handler, http_server_options opts = {});
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds `address:port` (port 0 picks a free one) and returns the bound port.
  result<std::uint16_t> listen(const std::string& address, std::uint16_t port);
  /// Serves TLS with `ctx` on connections accepted from now on (null: plain
  /// HTTP); calling it again (a certificate reload) leaves open connections
  /// on the context they began with.
  void use_tls(std::shared_ptr<const tls_server_context> ctx);
  /// Starts accepting; call after listen().
  void start();
  /// Stops accepting and closes idle connections; requests in progress finish
  /// their response, then their connection closes.
  void stop();
  /// Closes every connection, busy ones too, and cancels their coroutines
  /// (after stop(), when the grace period for requests in progress is over).
  void close_all();
  /// Connections currently open.
  std::size_t connections() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace damselfly
