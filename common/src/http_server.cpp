// SPDX-License-Identifier: Apache-2.0
// Beast-based HTTP/1.1 server, plain or TLS: per-connection coroutine and watchdog, sendfile for
// file slices.
#include "damselfly/common/http_server.hpp"

#include <linux/pkt_sched.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "damselfly/common/file_io.hpp"
#include "damselfly/common/offload.hpp"
#include "damselfly/common/page_cache.hpp"
#include "damselfly/common/task_group.hpp"
#include "damselfly/common/tls_server_context.hpp"

namespace damselfly {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using tls_stream = asio::ssl::stream<tcp::socket>;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

struct connection {
  explicit connection(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  tcp::socket socket;  ///< the stream of a plain connection; moved into `tls` for TLS
  std::shared_ptr<const tls_server_context> tls_ctx;
  std::unique_ptr<tls_stream> tls;
  tcp::socket& raw() { return tls ? tls->next_layer() : socket; }
  asio::steady_timer timer;
  steady::time_point deadline = steady::time_point::max();
  bool idle = true;  ///< waiting for the next request; safe to close on stop
  bool done = false;
  std::string remote;
  std::string address;  ///< the client's IP address, for the per-address count
  /// Work counted on the handlers' executor while the connection is open
  /// (empty when handlers run here).
  asio::any_io_executor handler_work;
};

/// While a file's bytes go out, the connection's packets are bulk for this
/// host's queue: the host's default discipline (pfifo_fast) sends its
/// requests and answers (priority 0) before them, instead of behind every
/// piece already queued. Local only: nothing on the wire changes.
class bulk_priority {
 public:
  explicit bulk_priority(int fd) : fd_(fd) { set(TC_PRIO_BULK); }
  ~bulk_priority() { set(0); }
  bulk_priority(const bulk_priority&) = delete;
  bulk_priority& operator=(const bulk_priority&) = delete;

 private:
  void set(int priority) {
    // Best effort: a socket that refuses keeps its queue position.
    (void)::setsockopt(fd_, SOL_SOCKET, SO_PRIORITY, &priority, sizeof priority);
  }
  int fd_;
};

/// From a file response's header to the first write of its bytes the
/// connection holds partial segments back: the header leaves in the first
/// segment of the body instead of a packet of its own (with 64 KiB pieces,
/// one packet in nine). Opened after that write, and however the write ends.
class tcp_cork {
 public:
  explicit tcp_cork(int fd) : fd_(fd) { corked_ = set(1); }
  ~tcp_cork() { open(); }
  tcp_cork(const tcp_cork&) = delete;
  tcp_cork& operator=(const tcp_cork&) = delete;
  /// Sends what is held back now (idempotent).
  void open() {
    if (corked_) corked_ = !set(0);
  }

 private:
  bool set(int on) {
    // Best effort: a socket that refuses sends the header on its own.
    return ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0;
  }
  int fd_;
  bool corked_ = false;
};

bool is_quiet_close(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
         ec == asio::error::bad_descriptor || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

struct http_server::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor e, http_handler h, http_server_options o)
      : ex(std::move(e)),
        handler(std::move(h)),
        opts(std::move(o)),
        acceptor(asio::make_strand(ex)),
        group(ex, "http server") {
    for (const auto& name : opts.kept_headers) {
      if (!kept_names.empty()) kept_names += ", ";
      kept_names += name;
    }
  }

  asio::any_io_executor ex;
  http_handler handler;
  http_server_options opts;
  std::string kept_names;  ///< opts.kept_headers as announced
  /// Connections placed on opts.connection_executors (the accept loop's alone).
  std::size_t homes_given = 0;
  /// The executor the next accepted connection runs on.
  asio::any_io_executor next_home() {
    if (opts.connection_executors.empty()) return ex;
    return opts.connection_executors[homes_given++ % opts.connection_executors.size()];
  }
  tcp::acceptor acceptor;
  std::atomic<bool> stopping{false};
  mutable std::mutex mu;
  std::unordered_set<std::shared_ptr<connection>> conns;
  std::unordered_map<std::string, std::size_t> per_address;  ///< open connections by client IP
  std::shared_ptr<const tls_server_context> tls;             ///< for new connections; under mu
  task_group group;  ///< the accept loop, every session and watchdog
  /// Reads of file slices that are not in memory wait here, not on the
  /// connections' threads: one slow disk read would stall every
  /// connection sharing that thread.
  asio::thread_pool disk{2};

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(std::shared_ptr<connection> c);
  template <class Stream>
  asio::awaitable<void> serve_requests(connection& c, Stream& stream);
  asio::awaitable<void> watchdog(std::shared_ptr<connection> c);
  /// The handler's answer to `req`, from the handlers' executor when it has one.
  asio::awaitable<http_response> answer(http_request& req);
  /// What the handlers' executor must release: `resp`'s stream and file
  /// slice go there (`sent`: bytes of the slice that went out).
  void release(http_response& resp, std::uint64_t sent);
  template <class Stream>
  asio::awaitable<error_code> write_response(connection& c, Stream& stream, http_response& resp,
                                             bool keep_alive, bool head_only);
  asio::awaitable<error_code> send_file(connection& c, tcp::socket& stream, const file_slice& slice,
                                        std::uint64_t& sent, tcp_cork& cork);
  /// A chunked body from resp.stream, each part written as it comes.
  template <class Stream>
  asio::awaitable<error_code> write_stream(connection& c, Stream& stream, http_response& resp,
                                           bool keep_alive, bool head_only);
  asio::awaitable<void> make_resident(connection& c, int fd, std::uint64_t offset,
                                      std::uint64_t length, std::uint64_t& resident_to);
  asio::awaitable<error_code> send_file(connection& c, tls_stream& stream, const file_slice& slice,
                                        std::uint64_t& sent, tcp_cork& cork);
};

http_server::http_server(asio::any_io_executor ex, http_handler handler, http_server_options opts)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(handler), std::move(opts))) {}

http_server::~http_server() {
  stop();
}

result<std::uint16_t> http_server::listen(const std::string& address, std::uint16_t port) {
  error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) return errc::invalid_argument;
  tcp::endpoint ep(addr, port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (ec) return ec;
  a.set_option(asio::socket_base::reuse_address(true), ec);
  a.bind(ep, ec);
  if (ec) return ec;
  a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  return a.local_endpoint().port();
}

void http_server::use_tls(std::shared_ptr<const tls_server_context> ctx) {
  std::lock_guard lock(impl_->mu);
  impl_->tls = std::move(ctx);
}

void http_server::start() {
  impl_->group.spawn(impl_->acceptor.get_executor(), impl_->accept_loop());
}

void http_server::stop() {
  if (impl_->stopping.exchange(true)) return;
  auto self = impl_;
  asio::post(self->acceptor.get_executor(), [self] {
    error_code ignored;
    self->acceptor.close(ignored);
  });
  std::lock_guard lock(self->mu);
  for (const auto& c : self->conns) {
    asio::post(c->timer.get_executor(), [c] {
      error_code ignored;
      if (c->idle) c->raw().close(ignored);
    });
  }
}

void http_server::close_all() {
  stop();
  auto self = impl_;
  std::lock_guard lock(self->mu);
  for (const auto& c : self->conns) {
    asio::post(c->timer.get_executor(), [c] {
      error_code ignored;
      c->raw().close(ignored);
    });
  }
  self->group.cancel();
}

std::size_t http_server::connections() const noexcept {
  std::lock_guard lock(impl_->mu);
  return impl_->conns.size();
}

asio::awaitable<void> http_server::impl::accept_loop() {
  auto self = shared_from_this();
  asio::steady_timer backoff(acceptor.get_executor());
  while (!stopping) {
    auto [ec, sock] = co_await acceptor.async_accept(asio::make_strand(next_home()), nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping || !acceptor.is_open()) co_return;
      // Out of descriptors and the like: wait a little rather than spin.
      spdlog::warn("accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(nothrow);
      continue;
    }
    auto c = std::make_shared<connection>(std::move(sock));
    error_code ignored;
    auto ep = c->socket.remote_endpoint(ignored);
    c->address = ep.address().to_string();
    c->remote = c->address + ":" + std::to_string(ep.port());
    {
      std::lock_guard lock(mu);
      if (conns.size() >= opts.max_connections) {
        spdlog::warn("connection limit {} reached; dropping a connection", opts.max_connections);
        continue;
      }
      auto& mine = per_address[c->address];
      if (opts.max_connections_per_address && mine >= opts.max_connections_per_address) {
        spdlog::warn("{} already holds {} connections; dropping another", c->address, mine);
        continue;
      }
      ++mine;
      conns.insert(c);
      c->tls_ctx = tls;
    }
    if (opts.handler_executor)
      c->handler_work =
          asio::prefer(opts.handler_executor, asio::execution::outstanding_work.tracked);
    c->socket.set_option(tcp::no_delay(true), ignored);
    auto strand = c->socket.get_executor();
    if (c->tls_ctx)
      c->tls = std::make_unique<tls_stream>(std::move(c->socket), c->tls_ctx->native());
    group.spawn(strand, session(c));
    group.spawn(strand, watchdog(c));
  }
}

asio::awaitable<void> http_server::impl::watchdog(std::shared_ptr<connection> c) {
  while (!c->done) {
    c->timer.expires_at(c->deadline);
    co_await c->timer.async_wait(nothrow);
    if (c->done) break;
    if (steady::now() >= c->deadline) {
      error_code ignored;
      c->raw().close(ignored);  // the session's pending operation fails and it ends
      break;
    }
  }
}

asio::awaitable<void> http_server::impl::session(std::shared_ptr<connection> c) {
  auto self = shared_from_this();
  // However the session ends (a cancelled one unwinds by exception), the
  // connection is closed and forgotten.
  struct end_of_session {
    impl& server;
    std::shared_ptr<connection> c;
    ~end_of_session() {
      error_code ignored;
      c->raw().shutdown(tcp::socket::shutdown_both, ignored);
      c->raw().close(ignored);
      c->done = true;
      c->timer.cancel();
      c->handler_work = {};
      std::lock_guard lock(server.mu);
      server.conns.erase(c);
      if (auto it = server.per_address.find(c->address); it != server.per_address.end())
        if (--it->second == 0) server.per_address.erase(it);
    }
  } cleanup{*this, c};
  if (!c->tls) {
    co_await serve_requests(*c, c->socket);
    co_return;
  }
  // The handshake is part of the first request's time.
  c->deadline = steady::now() + opts.read_timeout;
  c->timer.cancel();
  auto [hec] = co_await c->tls->async_handshake(asio::ssl::stream_base::server, nothrow);
  if (hec) {
    spdlog::debug("TLS handshake with {} failed: {}", c->remote, hec.message());
    co_return;
  }
  co_await serve_requests(*c, *c->tls);
  // A TLS close is announced (close_notify), briefly: the peer may be gone.
  c->deadline = steady::now() + std::chrono::seconds(1);
  c->timer.cancel();
  co_await c->tls->async_shutdown(nothrow);
}

asio::awaitable<http_response> http_server::impl::answer(http_request& req) {
  if (!opts.handler_executor) co_return co_await handler(req);
  // Started there, not merely resumed there: whatever the handler does
  // before its first suspension touches the shared state too.
  co_return co_await asio::co_spawn(
      opts.handler_executor,
      [this, &req]() -> asio::awaitable<http_response> { co_return co_await handler(req); },
      asio::use_awaitable);
}

void http_server::impl::release(http_response& resp, std::uint64_t sent) {
  if (!opts.handler_executor) {
    if (resp.file && resp.file->on_sent) resp.file->on_sent(sent);
    return;
  }
  // The callbacks and whatever they hold (an upload slot of a task, say)
  // belong to the handlers' state: called and destroyed there.
  asio::post(opts.handler_executor,
             [file = std::move(resp.file), stream = std::move(resp.stream), sent] {
               if (file && file->on_sent) file->on_sent(sent);
             });
  resp.file.reset();
  resp.stream.reset();
}

template <class Stream>
asio::awaitable<void> http_server::impl::serve_requests(connection& conn, Stream& stream) {
  auto* c = &conn;
  beast::flat_buffer buf;
  http_headers kept;       // the last value of each of opts.kept_headers sent here
  bool announced = false;  // whether this connection heard which fields it keeps
  while (!stopping) {
    c->idle = true;
    c->deadline = steady::now() + opts.idle_timeout;
    c->timer.cancel();
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts.max_header_bytes));
    parser.body_limit(opts.max_body_bytes);
    auto [ec, n] = co_await http::async_read_header(stream, buf, parser, nothrow);
    c->idle = false;
    if (!ec) {
      c->deadline = steady::now() + opts.read_timeout;
      auto& h = parser.get();
      if (beast::iequals(h[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        std::tie(ec, n) = co_await http::async_write(stream, cont, nothrow);
      }
      if (!ec && !parser.is_done())
        std::tie(ec, n) = co_await http::async_read(stream, buf, parser, nothrow);
    }
    if (ec) {
      if (is_quiet_close(ec) ||
          ec.category() != http::make_error_code(http::error::bad_target).category())
        break;
      unsigned status = ec == http::error::header_limit ? 431
                        : ec == http::error::body_limit ? 413
                                                        : 400;
      auto resp =
          http_response::error(status, status == 400 ? "bad_request" : "too_large", ec.message());
      co_await write_response(*c, stream, resp, false, false);
      break;
    }

    auto msg = parser.release();
    bool keep_alive = msg.keep_alive();
    http_request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) req.headers.add(std::string(f.name_string()), std::string(f.value()));
    req.body = std::move(msg.body());
    req.remote = c->remote;
    req.remote_address = c->address;
    for (const auto& name : opts.kept_headers) {
      if (auto v = req.headers.get(name))
        kept.set(name, std::string(*v));
      else if (auto k = kept.get(name))
        req.headers.set(name, std::string(*k));
    }

    http_response resp;
    try {
      if (opts.prepare) opts.prepare(req);
      resp = co_await answer(req);
    } catch (const std::exception& e) {
      spdlog::error("handler for {} {} threw: {}", req.method, req.target, e.what());
      resp = http_response::error(500, "internal", "internal error");
    }
    keep_alive = keep_alive && !stopping;
    if (!announced && !opts.kept_headers.empty()) {
      resp.headers.set(kept_headers_header, kept_names);
      announced = true;
    }
    ec = co_await write_response(*c, stream, resp, keep_alive, req.method == "HEAD");
    if (resp.stream) release(resp, 0);
    if (ec || !keep_alive) break;
  }
}

template <class Stream>
asio::awaitable<error_code> http_server::impl::write_response(connection& c, Stream& stream,
                                                              http_response& resp, bool keep_alive,
                                                              bool head_only) {
  c.deadline = steady::now() + opts.write_timeout;
  c.timer.cancel();
  auto fill = [&](auto& msg) {
    for (const auto& [k, v] : resp.headers.fields()) msg.set(k, v);
    if (!opts.server_name.empty()) msg.set(http::field::server, opts.server_name);
    msg.keep_alive(keep_alive);
  };
  if (resp.stream) co_return co_await write_stream(c, stream, resp, keep_alive, head_only);
  if (!resp.file) {
    http::response<http::string_body> msg{static_cast<http::status>(resp.status), 11};
    fill(msg);
    // A 204 has no body and must not say it has one (RFC 9110, 8.6).
    if (resp.status != 204) msg.content_length(resp.body.size());
    if (!head_only) msg.body() = std::move(resp.body);
    http::response_serializer<http::string_body> sr{msg};
    if (head_only) {
      auto [ec, n] = co_await http::async_write_header(stream, sr, nothrow);
      co_return ec;
    }
    auto [ec, n] = co_await http::async_write(stream, sr, nothrow);
    co_return ec;
  }
  // However the write ends (failed header, HEAD, cancellation), the handler
  // hears once how much went out: it may hold an upload slot until then.
  struct report_sent {
    impl& server;
    http_response& resp;
    std::uint64_t sent = 0;
    ~report_sent() { server.release(resp, sent); }
  } report{*this, resp};
  http::response<http::empty_body> msg{static_cast<http::status>(resp.status), 11};
  fill(msg);
  msg.content_length(resp.file->length);
  http::response_serializer<http::empty_body> sr{msg};
  tcp_cork cork(c.raw().native_handle());
  auto [ec, n] = co_await http::async_write_header(stream, sr, nothrow);
  if (ec || head_only) co_return ec;
  const bulk_priority bulk(c.raw().native_handle());
  co_return co_await send_file(c, stream, *resp.file, report.sent, cork);
}

template <class Stream>
asio::awaitable<error_code> http_server::impl::write_stream(connection& c, Stream& stream,
                                                            http_response& resp, bool keep_alive,
                                                            bool head_only) {
  http::response<http::empty_body> msg{static_cast<http::status>(resp.status), 11};
  for (const auto& [k, v] : resp.headers.fields()) msg.set(k, v);
  if (!opts.server_name.empty()) msg.set(http::field::server, opts.server_name);
  msg.keep_alive(keep_alive);
  msg.chunked(true);
  http::response_serializer<http::empty_body> sr{msg};
  auto [ec, n] = co_await http::async_write_header(stream, sr, nothrow);
  if (ec || head_only) co_return ec;
  while (true) {
    // Waiting for the producer is not the client's fault: the watchdog
    // allows its bounded wait, then the write's own time.
    c.deadline = steady::now() + http_stream::part_wait + opts.write_timeout;
    c.timer.cancel();
    // (Not a conditional expression: GCC miscompiles co_await in one.)
    std::optional<std::string> part;
    if (opts.handler_executor)
      part = co_await asio::co_spawn(
          opts.handler_executor,
          [&resp]() -> asio::awaitable<std::optional<std::string>> {
            co_return co_await resp.stream->next();
          },
          asio::use_awaitable);
    else
      part = co_await resp.stream->next();
    c.deadline = steady::now() + opts.write_timeout;
    c.timer.cancel();
    if (!part || (part->empty() && stopping)) break;
    if (part->empty()) continue;
    std::tie(ec, n) =
        co_await asio::async_write(stream, http::make_chunk(asio::buffer(*part)), nothrow);
    if (ec) co_return ec;
  }
  std::tie(ec, n) = co_await asio::async_write(stream, http::make_chunk_last(), nothrow);
  co_return ec;
}

namespace {

/// Waits until `slice.pace` allows `chunk` more bytes (it may grant fewer
/// at once: `paid` carries what was allowed but not yet sent).
asio::awaitable<std::size_t> paced_chunk(const file_slice& slice, std::size_t chunk,
                                         std::uint64_t& paid, asio::steady_timer& pause,
                                         steady::time_point& deadline,
                                         std::chrono::milliseconds write_timeout) {
  if (!slice.pace) co_return chunk;
  if (paid == 0) {
    paid = chunk;
    auto wait = slice.pace(chunk);
    if (wait.count() > 0) {
      deadline = steady::now() + write_timeout + std::chrono::duration_cast<steady::duration>(wait);
      pause.expires_after(wait);
      co_await pause.async_wait(nothrow);
    }
  }
  co_return static_cast<std::size_t>(std::min<std::uint64_t>(chunk, paid));
}

}  // namespace

asio::awaitable<void> http_server::impl::make_resident(connection& c, int fd, std::uint64_t offset,
                                                       std::uint64_t length,
                                                       std::uint64_t& resident_to) {
  if (offset + length <= resident_to) co_return;
  if (!in_page_cache(fd, offset, length)) {
    // A piece written past the page cache, or evicted since: read in on a
    // disk thread (the write deadline covers the wait), then back here.
    c.deadline = steady::now() + opts.write_timeout;
    // A failure shows in the send that follows.
    co_await offload(disk.get_executor(),
                     [fd, offset, length] { (void)load_into_page_cache(fd, offset, length); });
  }
  resident_to = offset + length;
}

asio::awaitable<error_code> http_server::impl::send_file(connection& c, tls_stream& stream,
                                                         const file_slice& slice,
                                                         std::uint64_t& sent, tcp_cork& cork) {
  // TLS encrypts in user space here: the file is read in blocks and written
  // through the stream (no sendfile: the bytes must pass through OpenSSL).
  std::uint64_t offset = slice.offset;
  std::uint64_t remaining = slice.length;
  const std::uint64_t max_chunk = slice.pace ? 64u << 10 : 256u << 10;
  std::vector<std::byte> block(static_cast<std::size_t>(std::min(max_chunk, remaining)));
  asio::steady_timer pause(c.timer.get_executor());
  std::uint64_t paid = 0;
  std::uint64_t resident_to = 0;
  while (remaining > 0) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, max_chunk));
    auto chunk = co_await paced_chunk(slice, want, paid, pause, c.deadline, opts.write_timeout);
    co_await make_resident(c, slice.fd->get(), offset, remaining, resident_to);
    auto view = std::span(block).first(chunk);
    if (auto ec = read_exact_at(slice.fd->get(), offset, view)) co_return ec;
    c.deadline = steady::now() + opts.write_timeout;
    auto [ec, n] =
        co_await asio::async_write(stream, asio::buffer(view.data(), view.size()), nothrow);
    cork.open();
    if (ec) co_return ec;
    offset += n;
    remaining -= n;
    sent += n;
    if (slice.pace) paid -= n;
  }
  co_return error_code{};
}

asio::awaitable<error_code> http_server::impl::send_file(connection& c, tcp::socket& socket,
                                                         const file_slice& slice,
                                                         std::uint64_t& sent, tcp_cork& cork) {
  off_t offset = static_cast<off_t>(slice.offset);
  std::uint64_t remaining = slice.length;
  error_code result;
  socket.non_blocking(true, result);
  // Paced sends go in small chunks so the rate holds over short intervals.
  const std::uint64_t max_chunk = slice.pace ? 64u << 10 : 4u << 20;
  asio::steady_timer pause(socket.get_executor());
  std::uint64_t paid = 0;  // bytes the pace already allowed but not yet sent
  std::uint64_t resident_to = 0;
  while (!result && remaining > 0) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, max_chunk));
    auto chunk = co_await paced_chunk(slice, want, paid, pause, c.deadline, opts.write_timeout);
    co_await make_resident(c, slice.fd->get(), static_cast<std::uint64_t>(offset), remaining,
                           resident_to);
    c.deadline = steady::now() + opts.write_timeout;
    ssize_t n = ::sendfile(socket.native_handle(), slice.fd->get(), &offset, chunk);
    if (n > 0) {
      cork.open();
      remaining -= static_cast<std::uint64_t>(n);
      sent += static_cast<std::uint64_t>(n);
      if (slice.pace) paid -= static_cast<std::uint64_t>(n);
    } else if (n == 0) {
      result = errc::io_error;  // the file is shorter than the slice promised
    } else if (errno == EAGAIN) {
      auto [ec] = co_await socket.async_wait(tcp::socket::wait_write, nothrow);
      result = ec;
    } else if (errno != EINTR) {
      result = error_code(errno, boost::system::system_category());
    }
  }
  cork.open();  // (an empty slice)
  // Sent means acknowledged: the whole slice can sit in the socket's buffer
  // after the last write, and a daemon that freed the upload slot then let
  // more transfers start than its link carries (its queue overflowed:
  // packets dropped, transfers stalled on retransmission timers). Polled,
  // from 1 ms up to 16 ms between looks.
  auto wait = std::chrono::milliseconds(1);
  while (!result && slice.until_acked) {
    int unacked = 0;
    if (::ioctl(socket.native_handle(), SIOCOUTQ, &unacked) != 0 || unacked <= 0) break;
    if (steady::now() >= c.deadline) {
      result = errc::timeout;
      break;
    }
    pause.expires_after(wait);
    co_await pause.async_wait(nothrow);
    wait = std::min(wait * 2, std::chrono::milliseconds(16));
  }
  co_return result;
}

}  // namespace damselfly
