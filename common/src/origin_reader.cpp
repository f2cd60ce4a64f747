// SPDX-License-Identifier: Apache-2.0
// Origin probe, parallel Range pieces or one stream, per-piece SHA-256.
#include "damselfly/common/origin_reader.hpp"

#include "damselfly/common/task_group.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>

#include "damselfly/common/digest.hpp"
#include "damselfly/common/http_range.hpp"
#include "damselfly/common/offload.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/url.hpp"

namespace damselfly {

namespace asio = boost::asio;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

std::string header_or_empty(const response_head& h, std::string_view name) {
  auto v = h.headers.get(name);
  return v ? std::string(*v) : std::string();
}

}  // namespace

/// Shared by the range workers of one fetch.
struct origin_reader::range_state {
  origin_layout layout;
  std::uint64_t count = 0;
  std::uint64_t next = 0;
  unsigned workers = 1;
  origin_result failure;  ///< first failure wins
  /// Atomic: the connections on the io_pool read these two (the only state they do).
  std::atomic<bool> failed{false};
  std::atomic<bool> cancelled{false};  ///< the sink cancelled, seen at a piece's end
  /// Pieces done on the io_pool whose on_piece has not run yet on the reader's executor.
  std::atomic<std::uint64_t> in_transit{0};
};

origin_failure_text describe_origin_failure(const http_url& url, const origin_result& r) {
  origin_failure_text t;
  const auto& ec = r.ec;
  if (r.http_status != 0) {
    t.code = "origin_http_error";
    t.message = "origin answered " + std::to_string(r.http_status) + " for " + url.text;
  } else if (ec == errc::origin_forbidden) {
    t.code = "origin_forbidden";
    t.message = "origin " + url.authority() +
                " resolves only to addresses this server may not fetch from (see its log; "
                "--origin-allow, --origin-deny)";
  } else if (ec == errc::timeout) {
    t.code = "origin_timeout";
    t.message = "origin " + url.authority() + " timed out";
  } else if (ec == errc::source_changed) {
    t.code = "source_changed";
    t.message = "source " + url.text + " changed while it was being fetched";
  } else if (ec == asio::error::connection_refused || ec == asio::error::host_not_found ||
             ec == asio::error::host_unreachable || ec == asio::error::network_unreachable ||
             ec == asio::error::host_not_found_try_again) {
    t.code = "origin_unreachable";
    t.message = "cannot reach origin " + url.authority() + ": " + ec.message();
  } else if (ec.category() == asio::error::get_ssl_category() ||
             ec.category() == asio::ssl::error::get_stream_category()) {
    t.code = "origin_tls";
    t.message = "TLS with origin " + url.authority() + " failed: " + ec.message();
  } else if (ec.category() == damselfly_category()) {
    t.code = "origin_protocol";
    t.message = "origin " + url.authority() + ": " + ec.message();
  } else {
    t.code = "origin_protocol";
    t.message = "origin " + url.authority() + " broke off the transfer: " + ec.message();
  }
  if (!r.detail.empty()) t.message += " (" + r.detail + ")";
  return t;
}

origin_reader::origin_reader(asio::any_io_executor ex, http_url url,
                             std::map<std::string, std::string> headers, origin_reader_options opts)
    : ex_(std::move(ex)), url_(std::move(url)), headers_(std::move(headers)), opts_(opts) {
  tls_ = opts_.client.tls;
  if (!tls_ && url_.https()) {
    // Without explicit settings an https origin is verified against the system store.
    auto ctx = tls_context::create(tls_options{}, &tls_failure_);
    if (ctx) tls_ = *ctx;
  }
}

http_client_options origin_reader::client_options() const {
  auto o = opts_.client;
  o.tls = url_.https() ? tls_ : nullptr;
  return o;
}

bool origin_reader::no_tls(origin_result& out) const {
  if (!url_.https() || tls_) return false;
  out.ec = errc::invalid_argument;
  out.detail = tls_failure_;
  return true;
}

http_request origin_reader::request() const {
  http_request req;
  req.target = url_.target;
  for (const auto& [k, v] : headers_) req.headers.set(k, v);
  if (!req.headers.get("User-Agent")) req.headers.set("User-Agent", "damselfly/0.1");
  return req;
}

error_code origin_reader::follow_redirect(std::string& why) {
  constexpr unsigned max_redirects = 20;
  auto location = std::move(location_);
  location_.clear();
  if (++redirects_ > max_redirects) {
    why = "more than " + std::to_string(max_redirects) + " redirects";
    return errc::origin_protocol;
  }
  auto next_text = resolve_url_reference(url_.text, location);
  auto next = next_text ? http_url::parse(*next_text) : result<http_url>(errc::invalid_argument);
  if (!next) {
    why = "redirect to an unusable Location '" + location.substr(0, 200) + "'";
    return errc::origin_protocol;
  }
  if (url_.https() && !next->https()) {
    why = "redirect from https to http refused: " + next->text;
    return errc::origin_protocol;
  }
  if (next->host != url_.host || next->port != url_.port) {
    // Credentials were meant for the host they were given for.
    std::erase_if(headers_, [](const auto& h) {
      return iequals(h.first, "authorization") || iequals(h.first, "proxy-authorization") ||
             iequals(h.first, "cookie");
    });
  }
  spdlog::debug("origin {} redirects to {}", url_.text, next->text);
  url_ = std::move(*next);
  if (url_.https() && !tls_) {
    auto ctx = tls_context::create(tls_options{}, &tls_failure_);
    if (ctx) tls_ = *ctx;
  }
  return {};
}

error_code origin_reader::parse_probe(const response_head& h, origin_layout& layout,
                                      int& http_status) {
  if (h.status == 301 || h.status == 302 || h.status == 303 || h.status == 307 || h.status == 308) {
    if (auto to = h.headers.get("Location"); to && !to->empty()) {
      location_ = std::string(*to);
      return errc::cancelled;  // the body is of no interest; follow_redirect() takes it from here
    }
  }
  layout.etag = header_or_empty(h, "ETag");
  layout.last_modified = header_or_empty(h, "Last-Modified");
  if (h.status == 206) {
    auto cr = h.headers.get("Content-Range");
    auto parsed = cr ? parse_content_range(*cr) : result<content_range>(errc::origin_protocol);
    if (!parsed || !parsed->total) return errc::origin_protocol;
    layout.ranged = true;
    layout.length = static_cast<std::int64_t>(*parsed->total);
  } else if (h.status == 200) {
    layout.ranged = false;
    layout.length = h.content_length ? static_cast<std::int64_t>(*h.content_length) : -1;
  } else if (h.status == 416) {
    // Only an empty file makes "bytes=0-0" unsatisfiable.
    auto cr = h.headers.get("Content-Range");
    auto parsed = cr ? parse_content_range(*cr) : result<content_range>(errc::origin_protocol);
    if (!parsed || !parsed->total || *parsed->total != 0) return errc::origin_protocol;
    layout.ranged = true;
    layout.length = 0;
  } else {
    http_status = static_cast<int>(h.status);
    return errc::origin_http_error;
  }
  layout.piece_size = choose_piece_size(layout.length, opts_.sizing);
  return {};
}

asio::awaitable<origin_result> origin_reader::probe(
    const std::function<void(std::uint64_t)>& on_bytes) {
  origin_result out;
  for (;;) {
    if (no_tls(out)) co_return out;
    http_client client(ex_, url_.host, url_.port, client_options());
    http_request req = request();
    req.headers.set("Range", "bytes=0-0");
    const head_check check = [&](const response_head& h) -> error_code {
      if (opts_.on_response) opts_.on_response(url_, h);
      if (auto ec = parse_probe(h, out.layout, out.http_status)) return ec;
      // An origin without Range support answers with the whole body: the head is enough.
      return out.layout.ranged ? error_code{} : error_code(errc::cancelled);
    };
    const body_sink count = [&](std::span<const std::byte> chunk) -> error_code {
      if (on_bytes) on_bytes(chunk.size());
      return {};
    };
    auto r = co_await client.request(req, check, count);
    if (!location_.empty()) {
      out = origin_result{};
      if (auto ec = follow_redirect(out.detail)) {
        out.ec = ec;
        co_return out;
      }
      continue;
    }
    if (!r && r.error() != errc::cancelled) out.ec = r.error();
    co_return out;
  }
}

asio::awaitable<origin_result> origin_reader::fetch(const origin_sink& sink) {
  origin_result out;
  origin_layout layout;
  bool streaming = false;
  std::uint64_t offset = 0;
  digest piece_hash(digest_algo::sha256);

  const head_check check = [&](const response_head& h) -> error_code {
    if (opts_.on_response) opts_.on_response(url_, h);
    if (auto ec = parse_probe(h, layout, out.http_status)) return ec;
    streaming = !layout.ranged;
    return sink.on_layout ? sink.on_layout(layout) : error_code{};
  };
  const body_sink body = [&](std::span<const std::byte> chunk) -> error_code {
    if (sink.cancelled && sink.cancelled()) return errc::cancelled;
    if (sink.on_bytes) sink.on_bytes(chunk.size());
    if (!streaming) return {};  // the probe's single byte: its piece comes whole later
    if (auto ec = sink.on_data(offset, chunk)) return ec;
    // Split the stream at piece boundaries so each piece gets its own digest.
    while (!chunk.empty()) {
      std::uint64_t in_piece = offset % layout.piece_size;
      auto take = static_cast<std::size_t>(
          std::min<std::uint64_t>(chunk.size(), layout.piece_size - in_piece));
      piece_hash.update(chunk.first(take));
      offset += take;
      chunk = chunk.subspan(take);
      if (offset % layout.piece_size == 0)
        sink.on_piece(offset / layout.piece_size - 1, piece_hash.finish());
    }
    return {};
  };
  for (;;) {
    if (no_tls(out)) co_return out;
    auto paced = client_options();
    paced.pace = sink.pace;  // only a single-stream body is long enough to feel it
    http_client client(ex_, url_.host, url_.port, paced);
    http_request req = request();
    req.headers.set("Range", "bytes=0-0");
    auto r = co_await client.request(req, check, body);
    if (!location_.empty()) {
      if (auto ec = follow_redirect(out.detail)) {
        out.ec = ec;
        co_return out;
      }
      continue;
    }
    if (!r) {
      out.ec = r.error();
      co_return out;
    }
    break;
  }
  if (streaming) {
    if (layout.length >= 0 && offset != static_cast<std::uint64_t>(layout.length)) {
      out.ec = errc::origin_protocol;
      out.detail = "body shorter than Content-Length";
      co_return out;
    }
    if (offset % layout.piece_size != 0)
      sink.on_piece(offset / layout.piece_size, piece_hash.finish());
    layout.length = static_cast<std::int64_t>(offset);
    out.layout = layout;
    co_return out;
  }

  range_state st;
  st.layout = layout;
  st.count = piece_count(static_cast<std::uint64_t>(layout.length), layout.piece_size);
  if (st.count > 0) {
    auto workers = static_cast<unsigned>(
        std::max<std::uint64_t>(1, std::min<std::uint64_t>(opts_.concurrency, st.count)));
    st.workers = workers;
    task_group group(ex_, "origin range workers");
    for (unsigned i = 0; i < workers; ++i) group.spawn(range_worker(sink, st));
    // The workers share `st`: none outlives this frame, even when cancelled.
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await group.join();
    // Pieces finished on the io_pool are told on this executor: their
    // handlers, queued before the workers ended, use `st` and `sink`.
    while (st.in_transit.load() > 0) co_await asio::post(ex_, asio::use_awaitable);
  }
  if (st.failed) co_return st.failure;
  if (opts_.abort && opts_.abort->load()) {
    out.ec = errc::cancelled;  // pieces may be missing: never a complete file
    co_return out;
  }
  out.layout = layout;
  co_return out;
}

std::pair<std::uint64_t, std::uint64_t> origin_reader::claim_run(const origin_sink& sink,
                                                                 range_state& st) const {
  auto skipped = [&](std::uint64_t i) { return sink.skip && sink.skip(i); };
  while (st.next < st.count && skipped(st.next)) ++st.next;
  if (st.next >= st.count) return {st.count, 0};
  const std::uint64_t first = st.next;
  std::uint64_t want = 1;
  if (!sink.pace) {
    // Guided: half of each worker's share of what is left, so the runs
    // shrink towards the end and the workers finish together.
    auto cap = std::max<std::uint64_t>(1, opts_.max_request_bytes / st.layout.piece_size);
    want = std::clamp<std::uint64_t>((st.count - first) / (2 * st.workers), 1, cap);
  }
  std::uint64_t n = 1;
  while (n < want && first + n < st.count && !skipped(first + n)) ++n;
  st.next = first + n;
  return {first, n};
}

asio::awaitable<void> origin_reader::range_worker(const origin_sink& sink, range_state& st) {
  // On an io_pool the connection lives there: a piece is received, hashed
  // and written on one thread, its bytes never cross to another core, and
  // the reader's thread (which owns the task and serves clients) is free.
  const bool elsewhere = static_cast<bool>(opts_.io_pool);
  http_client client(elsewhere ? opts_.io_pool : ex_, url_.host, url_.port, client_options());
  asio::steady_timer backoff(ex_);
  const auto length = static_cast<std::uint64_t>(st.layout.length);
  const auto piece_size = st.layout.piece_size;
  // All the connections on the io_pool may read: the flags.
  auto aborted = [&] {
    return st.failed.load(std::memory_order_relaxed) ||
           st.cancelled.load(std::memory_order_relaxed) ||
           (opts_.abort && opts_.abort->load(std::memory_order_relaxed));
  };
  auto stop = [&] { return aborted() || (sink.cancelled && sink.cancelled()); };
  // A piece whose last byte arrived: told at once, so a run's first pieces
  // are served while its last ones still come. From the io_pool the telling
  // goes to the reader's executor (fetch() waits for it before it returns).
  auto finished = [&](std::uint64_t index, std::string sha) {
    if (!elsewhere) {
      sink.on_piece(index, std::move(sha));
      return;
    }
    st.in_transit.fetch_add(1);
    asio::post(ex_, [&sink, &st, index, sha = std::move(sha)]() mutable {
      sink.on_piece(index, std::move(sha));
      if (sink.cancelled && sink.cancelled()) st.cancelled = true;
      st.in_transit.fetch_sub(1);
    });
  };
  while (!stop()) {
    auto [first, count] = claim_run(sink, st);
    if (count == 0) break;
    const std::uint64_t end = first + count;
    if (sink.pace) {
      if (auto wait = sink.pace(piece_at(first, length, piece_size).length); wait.count() > 0) {
        backoff.expires_after(wait);
        co_await backoff.async_wait(nothrow);
        if (stop()) break;
      }
    }
    origin_result last;
    std::uint64_t next = first;  // the run's first piece not yet whole
    // Failed attempts at `next`: opts_.retries of them fail the fetch.
    for (unsigned failures = 0; next < end && !stop();) {
      if (failures > 0) {
        backoff.expires_after(std::chrono::milliseconds(200 * failures));
        co_await backoff.async_wait(nothrow);
        if (stop()) break;
      }
      const auto from = piece_at(next, length, piece_size).offset;
      const piece_range range{from, piece_at(end - 1, length, piece_size).end() - from};
      http_request req = request();
      req.headers.set("Range", format_range_request(range));
      digest hash(digest_algo::sha256);
      std::uint64_t got = 0, in_piece = 0;
      const std::uint64_t started_at = next;
      last = origin_result{};
      const head_check check = [&](const response_head& h) -> error_code {
        if (h.status != 206) {
          if (h.status != 200) last.http_status = static_cast<int>(h.status);
          return h.status == 200 ? errc::source_changed : errc::origin_http_error;
        }
        auto cr = h.headers.get("Content-Range");
        auto parsed = cr ? parse_content_range(*cr) : result<content_range>(errc::origin_protocol);
        if (!parsed || !parsed->range || *parsed->range != range) return errc::origin_protocol;
        if (parsed->total && *parsed->total != length) return errc::source_changed;
        if (header_or_empty(h, "ETag") != st.layout.etag ||
            header_or_empty(h, "Last-Modified") != st.layout.last_modified)
          return errc::source_changed;
        return {};
      };
      std::uint64_t received = 0;
      const body_sink body = [&](std::span<const std::byte> chunk) -> error_code {
        if (elsewhere ? aborted() : stop()) return errc::cancelled;
        if (!elsewhere && sink.on_bytes) sink.on_bytes(chunk.size());
        received += chunk.size();
        if (got + chunk.size() > range.length) return errc::origin_protocol;
        if (auto ec = sink.on_data(range.offset + got, chunk)) return ec;
        got += chunk.size();
        // Split at piece boundaries: each piece gets its own digest.
        while (!chunk.empty()) {
          const auto whole = piece_at(next, length, piece_size).length;
          auto take =
              static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), whole - in_piece));
          hash.update(chunk.first(take));
          chunk = chunk.subspan(take);
          in_piece += take;
          if (in_piece == whole) {
            finished(next++, hash.finish());
            in_piece = 0;
          }
        }
        return {};
      };
      auto r = co_await run_on(opts_.io_pool, client.request(req, check, body));
      if (elsewhere && sink.on_bytes && received > 0) sink.on_bytes(received);
      if (stop()) break;
      if (r && got == range.length) break;  // every piece of the run is whole
      if (next > started_at) failures = 0;  // it brought pieces: `next` is a new one
      last.ec = r ? error_code(errc::origin_protocol) : r.error();
      spdlog::debug("origin {} piece {} attempt {} failed: {}", url_.authority(), next,
                    failures + 1, last.ec.message());
      if (last.ec == errc::source_changed || last.ec == errc::io_error) break;
      if (++failures >= opts_.retries) break;
    }
    if (next < end && !st.failed) {
      if (!last.ec) last.ec = errc::cancelled;
      last.detail = "piece " + std::to_string(next);
      st.failed = true;
      st.failure = last;
    }
  }
}

}  // namespace damselfly
