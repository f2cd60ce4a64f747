// SPDX-License-Identifier: Apache-2.0
// Beast-based HTTP/1.1 client with per-operation deadlines and a streaming body reader.
#include "damselfly/common/http_client.hpp"

#include <spdlog/spdlog.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>
#include <vector>

#include "damselfly/common/tls_context.hpp"

namespace damselfly {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t chunk_size = 256 * 1024;

error_code map_error(const error_code& ec) {
  if (ec == beast::error::timeout) return errc::timeout;
  return ec;
}

/// A peer that closes without TLS close_notify reports stream_truncated:
/// for HTTP/1.1 that is the same as a plain end of stream.
bool is_eof(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

bool is_stale_connection(const error_code& ec) {
  return is_eof(ec) || ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == http::error::partial_message;
}

}  // namespace

struct http_client::impl {
  impl(asio::any_io_executor e, std::string h, std::uint16_t p, http_client_options o)
      : ex(std::move(e)), host(std::move(h)), port(p), opts(o), resolver(ex), stream(ex) {
    // Beast sizes reads by the buffer's spare capacity: without room it reads
    // a few hundred bytes per system call.
    buffer.reserve(64 * 1024);
  }

  asio::any_io_executor ex;
  std::string host;
  std::uint16_t port;
  http_client_options opts;
  tcp::resolver resolver;
  beast::tcp_stream stream;       ///< plain connections
  std::optional<tls_stream> tls;  ///< HTTPS connections (a fresh one per connection)
  /// fetch_into()'s caller hears of body bytes as they land (null: nobody).
  const std::function<void(std::size_t)>* received = nullptr;
  beast::flat_buffer buffer;
  bool connected = false;
  /// Body chunks for the sink; allocated on first use (direct reads never
  /// need it, and a daemon pools many connections).
  std::vector<std::byte> chunk;
  /// The last exchange's head was refused (check) but its short body was
  /// read whole: the connection stays for the next request.
  bool clean_refusal = false;
  /// What the server said this connection keeps (kept_headers_header),
  /// compared ignoring case; empty until it says so.
  std::vector<std::string> kept;
  /// The value of every field last sent on this connection.
  http_headers on_wire;

  asio::awaitable<error_code> connect();
  /// Whether `name: value` may stay off the wire: kept here and already sent.
  bool already_kept(std::string_view name, std::string_view value) const {
    if (std::none_of(kept.begin(), kept.end(), [&](const auto& k) { return iequals(k, name); }))
      return false;
    auto v = on_wire.get(name);
    return v && *v == value;
  }
  /// Takes in the server's word on what this connection keeps: a few short
  /// names at most, whatever it sends.
  void learn_kept(std::string_view list) {
    constexpr std::size_t most_names = 8, longest_name = 64;
    while (!list.empty() && kept.size() < most_names) {
      auto comma = list.find(',');
      auto name = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
      while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
      if (!name.empty() && name.size() <= longest_name) kept.emplace_back(name);
    }
  }
  /// The TCP layer whatever the connection's kind.
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : stream; }
  void drop() {
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
    tls.reset();
    buffer.consume(buffer.size());
    connected = false;
    kept.clear();  // a new connection keeps nothing yet
    on_wire = {};
  }
  /// Given a fixed body length, where to read the body to (bypassing the sink).
  using direct_target = std::function<result<std::span<std::byte>>(std::uint64_t length)>;
  /// One attempt; `got_response` tells whether any response byte was read (no
  /// retry after). With `direct`, a fixed-length body is read straight into the
  /// memory it names instead of going through `sink`.
  asio::awaitable<result<response_head>> attempt(const http_request& req, const head_check& check,
                                                 const body_sink& sink, bool& got_response,
                                                 const direct_target& direct);
  template <class Stream>
  asio::awaitable<result<response_head>> exchange(Stream& s, const http_request& req,
                                                  const head_check& check, const body_sink& sink,
                                                  bool& got_response, const direct_target& direct);
  /// opts.pace's pause after `bytes` of a streamed body (none without a cap).
  asio::awaitable<void> pause_for(std::uint64_t bytes) {
    if (!opts.pace || bytes == 0) co_return;
    auto wait = opts.pace(bytes);
    if (wait.count() <= 0) co_return;
    asio::steady_timer timer(ex, wait);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  /// attempt() plus one retry on a stale keep-alive connection.
  asio::awaitable<result<response_head>> run(const http_request& req, const head_check& check,
                                             const body_sink& sink, const direct_target& direct);
};

http_client::http_client(asio::any_io_executor ex, std::string host, std::uint16_t port,
                         http_client_options opts)
    : impl_(std::make_unique<impl>(std::move(ex), std::move(host), port, opts)) {}

http_client::~http_client() = default;

void http_client::close() {
  impl_->drop();
}
const std::string& http_client::host() const noexcept {
  return impl_->host;
}
std::uint16_t http_client::port() const noexcept {
  return impl_->port;
}

asio::awaitable<error_code> http_client::impl::connect() {
  if (opts.tls) tls.emplace(ex, opts.tls->native());
  auto& low = lowest();
  low.expires_after(opts.connect_timeout);
  auto [rec, resolved] = co_await resolver.async_resolve(host, std::to_string(port), nothrow);
  if (rec) co_return rec;
  // Only the addresses vetted here are connected to: no second lookup.
  std::vector<tcp::endpoint> endpoints;
  for (const auto& r : resolved) {
    auto why = opts.vet_address ? opts.vet_address(host, r.endpoint().address().to_string(), port)
                                : std::string();
    if (why.empty())
      endpoints.push_back(r.endpoint());
    else
      spdlog::warn("not connecting to {}", why);
  }
  if (endpoints.empty()) co_return errc::origin_forbidden;
  auto [cec, ep] = co_await low.async_connect(endpoints, nothrow);
  if (cec) co_return map_error(cec);
  error_code ignored;
  low.socket().set_option(tcp::no_delay(true), ignored);
  if (tls) {
    error_code ip_ec;
    asio::ip::make_address(host, ip_ec);
    // SNI names hosts, never addresses (RFC 6066).
    if (ip_ec && !SSL_set_tlsext_host_name(tls->native_handle(), host.c_str()))
      co_return error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
    if (opts.tls->verifies()) tls->set_verify_callback(asio::ssl::host_name_verification(host));
    low.expires_after(opts.connect_timeout);
    auto [hec] = co_await tls->async_handshake(asio::ssl::stream_base::client, nothrow);
    if (hec) co_return map_error(hec);
  }
  connected = true;
  co_return error_code{};
}

asio::awaitable<result<response_head>> http_client::impl::attempt(const http_request& req,
                                                                  const head_check& check,
                                                                  const body_sink& sink,
                                                                  bool& got_response,
                                                                  const direct_target& direct) {
  got_response = false;
  if (!connected) {
    if (auto ec = co_await connect()) co_return ec;
  }
  if (tls) co_return co_await exchange(*tls, req, check, sink, got_response, direct);
  co_return co_await exchange(stream, req, check, sink, got_response, direct);
}

template <class Stream>
asio::awaitable<result<response_head>> http_client::impl::exchange(
    Stream& s, const http_request& req, const head_check& check, const body_sink& sink,
    bool& got_response, const direct_target& direct) {
  auto& low = beast::get_lowest_layer(s);
  http::request<http::string_body> msg;
  msg.method_string(req.method);
  msg.target(req.target);
  msg.version(11);
  for (const auto& [k, v] : req.headers.fields()) {
    if (already_kept(k, v)) continue;
    msg.set(k, v);
    on_wire.set(k, v);
  }
  if (req.headers.get("Host") == std::nullopt) {
    bool v6 = host.find(':') != std::string::npos;
    msg.set(http::field::host, (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port));
  }
  msg.body() = req.body;
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") msg.prepare_payload();
  msg.keep_alive(true);

  low.expires_after(opts.io_timeout);
  auto [wec, wn] = co_await http::async_write(s, msg, nothrow);
  if (wec) co_return map_error(wec);

  http::response_parser<http::buffer_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(opts.max_header_bytes));
  parser.body_limit(boost::none);
  if (req.method == "HEAD") parser.skip(true);
  low.expires_after(opts.io_timeout);
  auto [hec, hn] = co_await http::async_read_header(s, buffer, parser, nothrow);
  if (hec) co_return map_error(hec);
  got_response = true;

  response_head head;
  const auto& h = parser.get();
  head.status = h.result_int();
  head.reason = std::string(h.reason());
  for (const auto& f : h) head.headers.add(std::string(f.name_string()), std::string(f.value()));
  if (auto len = parser.content_length()) head.content_length = *len;
  if (kept.empty())
    if (auto list = head.headers.get(kept_headers_header)) learn_kept(*list);
  if (check) {
    if (auto ec = check(head)) {
      // A refusal with a short body (a busy peer's 503) is read to its end:
      // the connection then serves the next request, where dropping it
      // cost a new one for every busy answer.
      auto len = parser.content_length();
      if (!len || *len > 4096 || parser.chunked() || !parser.keep_alive()) co_return ec;
      std::array<char, 4096> scrap;
      while (!parser.is_done()) {
        auto& body = parser.get().body();
        body.data = scrap.data();
        body.size = scrap.size();
        low.expires_after(opts.io_timeout);
        auto [rec, rn] = co_await http::async_read(s, buffer, parser, nothrow);
        if (rec && rec != http::error::need_buffer) co_return ec;
      }
      clean_refusal = true;
      co_return ec;
    }
  }
  if (chunk.empty() && !(direct && parser.content_length())) chunk.resize(chunk_size);
  if (auto len = parser.content_length(); len && !parser.chunked() && !parser.is_done()) {
    // Fixed-length body: read it straight into our chunk buffer. Beast's
    // buffer_body path would copy through the flat_buffer in small reads.
    std::uint64_t remaining = *len;
    std::size_t buffered =
        std::min<std::size_t>(buffer.size(), static_cast<std::size_t>(remaining));
    if (direct) {
      auto target = direct(remaining);
      if (!target) co_return target.error();
      auto dst = *target;
      if (dst.size() != remaining) co_return errc::protocol_error;
      asio::buffer_copy(asio::buffer(dst.data(), buffered), buffer.data());
      buffer.consume(buffered);
      std::size_t filled = buffered;
      if (buffered > 0 && received && *received) (*received)(buffered);
      while (filled < dst.size()) {
        low.expires_after(opts.io_timeout);
        auto [ec, n] = co_await s.async_read_some(
            asio::buffer(dst.data() + filled, std::min<std::size_t>(dst.size() - filled, 1 << 20)),
            nothrow);
        if (ec) co_return is_eof(ec) ? error_code(http::error::partial_message) : map_error(ec);
        filled += n;
        if (received && *received) (*received)(n);
      }
      if (!parser.keep_alive()) drop();
      co_return head;
    }
    if (buffered > 0) {
      auto data = static_cast<const std::byte*>(buffer.data().data());
      if (sink) {
        if (auto sec = sink(std::span<const std::byte>(data, buffered))) co_return sec;
      }
      buffer.consume(buffered);
      remaining -= buffered;
    }
    while (remaining > 0) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), remaining));
      low.expires_after(opts.io_timeout);
      auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk.data(), want), nothrow);
      if (ec) co_return is_eof(ec) ? error_code(http::error::partial_message) : map_error(ec);
      remaining -= n;
      if (sink) {
        if (auto sec = sink(std::span<const std::byte>(chunk.data(), n))) co_return sec;
      }
      co_await pause_for(n);
    }
    if (!parser.keep_alive()) drop();
    co_return head;
  }
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    low.expires_after(opts.io_timeout);
    // Some at a time: a chunked body may be a stream whose parts must reach
    // the sink as they come, not once the buffer is full.
    auto [ec, n] = co_await http::async_read_some(s, buffer, parser, nothrow);
    bool truncated = ec == asio::ssl::error::stream_truncated;
    if (ec && ec != http::error::need_buffer && !truncated) co_return map_error(ec);
    std::size_t got = chunk.size() - parser.get().body().size;
    if (got > 0 && sink) {
      if (auto sec = sink(std::span<const std::byte>(chunk.data(), got))) co_return sec;
    }
    co_await pause_for(got);
    if (truncated) {
      // Beast only treats a plain EOF as the end of a close-delimited body.
      error_code eof_ec;
      parser.put_eof(eof_ec);
      if (eof_ec) co_return eof_ec;
    }
  }
  if (!parser.keep_alive()) drop();
  co_return head;
}

asio::awaitable<result<response_head>> http_client::impl::run(const http_request& req,
                                                              const head_check& check,
                                                              const body_sink& sink,
                                                              const direct_target& direct) {
  bool reused = connected;
  bool got_response = false;
  clean_refusal = false;
  auto r = co_await attempt(req, check, sink, got_response, direct);
  if (!r && clean_refusal) co_return r;  // answered, and the connection is sound
  if (!r) {
    drop();
    // A keep-alive connection the server already closed fails before any
    // answer arrives; that deserves one fresh attempt, nothing else does.
    if (reused && !got_response && is_stale_connection(r.error()))
      r = co_await attempt(req, check, sink, got_response, direct);
    if (!r) drop();
  }
  co_return r;
}

asio::awaitable<result<response_head>> http_client::request(const http_request& req,
                                                            const head_check& check,
                                                            const body_sink& sink) {
  const impl::direct_target none;  // named: see fetch()
  co_return co_await impl_->run(req, check, sink, none);
}

asio::awaitable<result<http_client_response>> http_client::fetch(const http_request& req,
                                                                 std::size_t max_body) {
  http_client_response out;
  // Every callable is a named std::function: GCC 12 can destroy temporaries
  // created inside a co_await expression twice.
  const head_check check = [&](const response_head& head) -> error_code {
    if (head.content_length && *head.content_length > max_body) return errc::protocol_error;
    return {};
  };
  const body_sink sink = [&](std::span<const std::byte> data) -> error_code {
    if (out.body.size() + data.size() > max_body) return errc::protocol_error;
    out.body.append(reinterpret_cast<const char*>(data.data()), data.size());
    return {};
  };
  const impl::direct_target into_body = [&](std::uint64_t length) -> result<std::span<std::byte>> {
    out.body.resize(static_cast<std::size_t>(length));
    return std::as_writable_bytes(std::span(out.body.data(), out.body.size()));
  };
  auto r = co_await impl_->run(req, check, sink, into_body);
  if (!r) co_return r.error();
  out.head = std::move(*r);
  co_return out;
}

asio::awaitable<result<response_head>> http_client::fetch_into(
    const http_request& req, std::span<std::byte> dest, const head_check& check,
    const std::function<void(std::size_t)>& received) {
  const head_check check_length = [&](const response_head& head) -> error_code {
    if (check) {
      if (auto ec = check(head)) return ec;
    }
    if (!head.content_length || *head.content_length != dest.size()) return errc::protocol_error;
    return {};
  };
  const body_sink fail_sink = [](std::span<const std::byte>) -> error_code {
    return errc::protocol_error;
  };
  const impl::direct_target into_dest = [&](std::uint64_t) -> result<std::span<std::byte>> {
    return dest;
  };
  impl_->received = &received;
  struct forget {
    impl& i;
    ~forget() { i.received = nullptr; }
  } reset{*impl_};
  co_return co_await impl_->run(req, check_length, fail_sink, into_dest);
}

}  // namespace damselfly
