// SPDX-License-Identifier: Apache-2.0
// Origin fetch: probe, parallel Range pieces or one stream, hashing and caching as bytes arrive.
#include "origin_fetcher.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "damselfly/common/http_client.hpp"
#include "damselfly/common/http_range.hpp"

namespace damselfly::supernode {

namespace asio = boost::asio;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

http_request origin_request(const task& t) {
  http_request req;
  req.method = "GET";
  req.target = t.url.target;
  for (const auto& [k, v] : t.source.headers) req.headers.set(k, v);
  req.headers.set("User-Agent", "damselfly-supernode/0.1");
  return req;
}

std::string version_of(const std::string& etag, const std::string& last_modified,
                       std::int64_t length) {
  if (etag.empty() && last_modified.empty()) {
    // No validators: every fetch is its own version.
    return sha256_hex(std::to_string(task::clock::now().time_since_epoch().count())).substr(0, 16);
  }
  return sha256_hex(etag + "\n" + last_modified + "\n" + std::to_string(length)).substr(0, 16);
}

std::string header_or_empty(const response_head& h, std::string_view name) {
  auto v = h.headers.get(name);
  return v ? std::string(*v) : std::string();
}

}  // namespace

/// State shared by the coroutines fetching one generation of a task.
struct origin_fetcher::fetch_state {
  std::uint64_t generation = 0;
  std::uint64_t next_piece = 0;
  unsigned running_workers = 0;
  bool failed = false;
  std::unique_ptr<asio::steady_timer> all_done;
};

origin_fetcher::origin_fetcher(asio::any_io_executor ex, const supernode_config& cfg,
                               cache_store& cache, metrics_registry& metrics)
    : ex_(std::move(ex)),
      cfg_(cfg),
      cache_(cache),
      source_bytes_(metrics.counter("damselfly_supernode_source_bytes_total",
                                    "Body bytes received from origins")),
      origin_requests_(
          metrics.counter("damselfly_supernode_origin_requests_total", "Requests sent to origins")),
      origin_failures_(metrics.counter("damselfly_supernode_origin_failures_total",
                                       "Tasks failed because of the origin")) {}

http_client_options origin_fetcher::origin_client_options() const {
  http_client_options o;
  o.io_timeout = cfg_.origin_timeout;
  o.connect_timeout = cfg_.origin_timeout;
  return o;
}

void origin_fetcher::fail(task& t, const error_code& ec, int origin_status,
                          const std::string& detail) {
  proto::error_info e;
  if (origin_status != 0) {
    e.code = "origin_http_error";
    e.origin_status = origin_status;
    e.message = "origin answered " + std::to_string(origin_status) + " for " + t.url.text;
  } else if (ec == errc::timeout) {
    e.code = "origin_timeout";
    e.message = "origin " + t.url.authority() + " timed out";
  } else if (ec == errc::invalid_argument) {
    e.code = "unsupported";
    e.message = "cannot fetch " + t.url.text;
  } else if (ec == errc::source_changed) {
    e.code = "source_changed";
    e.message = "source " + t.url.text + " changed while it was being fetched";
  } else if (ec.category() == damselfly_category()) {
    e.code = "origin_protocol";
    e.message = "origin " + t.url.authority() + ": " + ec.message();
  } else if (ec == boost::asio::error::connection_refused ||
             ec == boost::asio::error::host_not_found ||
             ec == boost::asio::error::host_unreachable ||
             ec == boost::asio::error::network_unreachable ||
             ec == boost::asio::error::host_not_found_try_again) {
    e.code = "origin_unreachable";
    e.message = "cannot reach origin " + t.url.authority() + ": " + ec.message();
  } else {
    e.code = "origin_protocol";
    e.message = "origin " + t.url.authority() + " broke off the transfer: " + ec.message();
  }
  if (!detail.empty()) e.message += " (" + detail + ")";
  spdlog::warn("task {}: {}", t.id.substr(0, 12), e.message);
  origin_failures_.add();
  cache_.remove(t.id);
  t.fail(std::move(e));
}

asio::awaitable<void> origin_fetcher::fetch(std::shared_ptr<task> t) {
  auto st = std::make_shared<fetch_state>();
  st->generation = t->generation;
  auto stale = [&] { return t->generation != st->generation; };

  if (t->url.https()) {
    fail(*t, errc::invalid_argument, 0,
         "https origins are not supported by this supernode version");
    co_return;
  }
  auto data = cache_.create_data(t->id);
  if (!data) {
    proto::error_info e{"cache_io", "supernode cannot create cache file: " + data.error().message(),
                        "", 0};
    t->fail(std::move(e));
    co_return;
  }
  auto fd = *data;

  http_client client(ex_, t->url.host, t->url.port, origin_client_options());
  http_request req = origin_request(*t);
  req.headers.set("Range", "bytes=0-0");

  enum class mode { none, ranged, streaming } m = mode::none;
  int bad_status = 0;
  // Streaming: the current piece being filled.
  std::uint64_t stream_offset = 0;
  digest piece_hash(digest_algo::sha256);

  const head_check check = [&](const response_head& h) -> error_code {
    if (stale()) return errc::cancelled;
    t->etag = header_or_empty(h, "ETag");
    t->last_modified = header_or_empty(h, "Last-Modified");
    if (h.status == 206) {
      auto cr = h.headers.get("Content-Range");
      if (!cr) return errc::origin_protocol;
      auto parsed = parse_content_range(*cr);
      if (!parsed || !parsed->total) return errc::origin_protocol;
      m = mode::ranged;
      auto length = static_cast<std::int64_t>(*parsed->total);
      t->set_layout(length, choose_piece_size(length, cfg_.sizing));
    } else if (h.status == 200) {
      m = mode::streaming;
      std::int64_t length = h.content_length ? static_cast<std::int64_t>(*h.content_length) : -1;
      t->set_layout(length, choose_piece_size(length, cfg_.sizing));
    } else if (h.status == 416) {
      // Only an empty file makes "bytes=0-0" unsatisfiable.
      auto cr = h.headers.get("Content-Range");
      auto parsed = cr ? parse_content_range(*cr) : result<content_range>(errc::origin_protocol);
      if (!parsed || !parsed->total || *parsed->total != 0) return errc::origin_protocol;
      m = mode::ranged;
      t->set_layout(0, choose_piece_size(0, cfg_.sizing));
    } else {
      bad_status = static_cast<int>(h.status);
      return errc::origin_http_error;
    }
    t->version = version_of(t->etag, t->last_modified, t->content_length);
    t->phase = task_phase::fetching;
    t->fd = fd;
    t->notify();
    return {};
  };

  const body_sink sink = [&](std::span<const std::byte> chunk) -> error_code {
    if (stale()) return errc::cancelled;
    source_bytes_.add(chunk.size());
    if (m != mode::streaming)
      return {};  // the probe's single byte: its piece is fetched whole later
    if (auto ec = cache_store::write_at(*fd, stream_offset, chunk)) return ec;
    // Split the stream at piece boundaries so each piece gets its own digest.
    while (!chunk.empty()) {
      std::uint64_t in_piece = stream_offset % t->piece_size;
      std::size_t take =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), t->piece_size - in_piece));
      piece_hash.update(chunk.first(take));
      stream_offset += take;
      chunk = chunk.subspan(take);
      if (stream_offset % t->piece_size == 0)
        t->piece_ready(stream_offset / t->piece_size - 1, piece_hash.finish());
    }
    return {};
  };

  origin_requests_.add();
  auto r = co_await client.request(req, check, sink);
  if (stale()) co_return;
  if (!r) {
    fail(*t, r.error(), bad_status, "");
    co_return;
  }

  if (m == mode::streaming) {
    if (t->content_length >= 0 && stream_offset != static_cast<std::uint64_t>(t->content_length)) {
      fail(*t, errc::origin_protocol, 0, "body shorter than Content-Length");
      co_return;
    }
    if (stream_offset % t->piece_size != 0)
      t->piece_ready(stream_offset / t->piece_size, piece_hash.finish());
    t->set_layout(static_cast<std::int64_t>(stream_offset), t->piece_size);
    complete(t);
    co_return;
  }

  // Ranged: parallel workers, lowest pieces first so peers can start at once.
  if (t->piece_count() == 0) {
    complete(t);
    co_return;
  }
  st->all_done = std::make_unique<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
  unsigned workers = std::max(
      1u, std::min<unsigned>(cfg_.origin_concurrency, static_cast<unsigned>(t->piece_count())));
  st->running_workers = workers;
  for (unsigned i = 0; i < workers; ++i) asio::co_spawn(ex_, range_worker(t, st), asio::detached);
  co_await st->all_done->async_wait(nothrow);
  if (stale() || st->failed) co_return;
  complete(t);
}

asio::awaitable<void> origin_fetcher::range_worker(std::shared_ptr<task> t,
                                                   std::shared_ptr<fetch_state> st) {
  auto stale = [&] { return t->generation != st->generation || st->failed; };
  http_client client(ex_, t->url.host, t->url.port, origin_client_options());
  asio::steady_timer backoff(ex_);
  auto fd = t->fd;

  while (!stale()) {
    std::uint64_t index = st->next_piece++;
    if (static_cast<std::int64_t>(index) >= t->piece_count()) break;
    auto range = piece_at(index, static_cast<std::uint64_t>(t->content_length), t->piece_size);
    error_code last;
    int bad_status = 0;
    bool done = false;
    for (unsigned attempt = 0; attempt < cfg_.origin_retries && !done && !stale(); ++attempt) {
      if (attempt > 0) {
        backoff.expires_after(std::chrono::milliseconds(200 * attempt));
        co_await backoff.async_wait(nothrow);
        if (stale()) break;
      }
      http_request req = origin_request(*t);
      req.headers.set("Range", format_range_request(range));
      digest hash(digest_algo::sha256);
      std::uint64_t got = 0;
      const head_check check = [&](const response_head& h) -> error_code {
        if (h.status != 206) {
          bad_status = static_cast<int>(h.status);
          return h.status == 200 ? errc::source_changed : errc::origin_http_error;
        }
        auto cr = h.headers.get("Content-Range");
        auto parsed = cr ? parse_content_range(*cr) : result<content_range>(errc::origin_protocol);
        if (!parsed || !parsed->range || *parsed->range != range) return errc::origin_protocol;
        if (parsed->total && static_cast<std::int64_t>(*parsed->total) != t->content_length)
          return errc::source_changed;
        if (header_or_empty(h, "ETag") != t->etag ||
            header_or_empty(h, "Last-Modified") != t->last_modified)
          return errc::source_changed;
        return {};
      };
      const body_sink sink = [&](std::span<const std::byte> chunk) -> error_code {
        if (stale()) return errc::cancelled;
        source_bytes_.add(chunk.size());
        if (got + chunk.size() > range.length) return errc::origin_protocol;
        if (auto ec = cache_store::write_at(*fd, range.offset + got, chunk)) return ec;
        hash.update(chunk);
        got += chunk.size();
        return {};
      };
      origin_requests_.add();
      auto r = co_await client.request(req, check, sink);
      if (stale()) break;
      if (r && got == range.length) {
        done = true;
        t->piece_ready(index, hash.finish());
      } else {
        last = r ? error_code(errc::origin_protocol) : r.error();
        spdlog::debug("task {} piece {} attempt {} failed: {}", t->id.substr(0, 12), index,
                      attempt + 1, last.message());
        if (last == errc::source_changed) break;
      }
    }
    if (!done && !stale()) {
      st->failed = true;
      fail(*t, last, bad_status, "piece " + std::to_string(index));
    }
  }
  if (--st->running_workers == 0 && st->all_done) st->all_done->cancel();
}

void origin_fetcher::complete(const std::shared_ptr<task>& t) {
  t->phase = task_phase::done;
  t->validated_at = task::clock::now();
  spdlog::info("task {} cached: {} bytes in {} pieces from {}", t->id.substr(0, 12),
               t->content_length, t->piece_count(), t->url.text);
  t->notify();
  // The whole-file digest reads the cache once more; do it off the I/O thread
  // so peers are served meanwhile. The cache entry is committed with it.
  auto gen = t->generation;
  auto fd = t->fd;
  auto length = static_cast<std::uint64_t>(t->content_length);
  asio::post(hasher_, [this, t, gen, fd, length] {
    digest d(digest_algo::sha256);
    std::vector<std::byte> buf(1 << 20);
    for (std::uint64_t off = 0; off < length;) {
      auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length - off));
      if (cache_store::read_at(*fd, off, std::span(buf.data(), n))) return;
      d.update(std::span<const std::byte>(buf.data(), n));
      off += n;
    }
    asio::post(ex_, [this, t, gen, hex = d.finish()] {
      if (t->generation != gen || t->phase != task_phase::done) return;
      t->file_sha256 = hex;
      cached_task_meta meta;
      meta.task_id = t->id;
      meta.url = t->url.text;
      meta.content_length = t->content_length;
      meta.piece_size = t->piece_size;
      meta.piece_sha256 = t->digests;
      meta.etag = t->etag;
      meta.last_modified = t->last_modified;
      meta.version = t->version;
      meta.file_sha256 = t->file_sha256;
      if (auto ec = cache_.commit(*t->fd, meta))
        spdlog::warn("task {}: cannot persist cache metadata: {}", t->id.substr(0, 12),
                     ec.message());
    });
  });
}

asio::awaitable<void> origin_fetcher::validate(std::shared_ptr<task> t) {
  auto gen = t->generation;
  http_client client(ex_, t->url.host, t->url.port, origin_client_options());
  http_request req = origin_request(*t);
  req.headers.set("Range", "bytes=0-0");
  std::int64_t length = -1;
  std::string etag, last_modified;
  int bad_status = 0;
  const head_check check = [&](const response_head& h) -> error_code {
    etag = header_or_empty(h, "ETag");
    last_modified = header_or_empty(h, "Last-Modified");
    if (h.status == 206) {
      auto cr = h.headers.get("Content-Range");
      auto parsed = cr ? parse_content_range(*cr) : result<content_range>(errc::origin_protocol);
      if (parsed && parsed->total) length = static_cast<std::int64_t>(*parsed->total);
    } else if (h.status == 200 && h.content_length) {
      length = static_cast<std::int64_t>(*h.content_length);
      return errc::cancelled;  // do not pull a whole body just to compare headers
    } else if (h.status == 416) {
      length = 0;
    } else if (h.status != 200) {
      bad_status = static_cast<int>(h.status);
      return errc::origin_http_error;
    } else {
      return errc::cancelled;
    }
    return {};
  };
  origin_requests_.add();
  // Named, not a temporary in the co_await: GCC 12 may destroy such temporaries twice.
  const body_sink count_only = [&](std::span<const std::byte> c) -> error_code {
    source_bytes_.add(c.size());
    return {};
  };
  auto r = co_await client.request(req, check, count_only);
  if (t->generation != gen) co_return;
  if (!r && r.error() != errc::cancelled) {
    fail(*t, r.error(), bad_status, "");
    co_return;
  }
  bool has_validators = !etag.empty() || !last_modified.empty();
  bool same = has_validators && etag == t->etag && last_modified == t->last_modified &&
              length == t->content_length;
  if (same) {
    t->phase = task_phase::done;
    t->validated_at = task::clock::now();
    t->notify();
    co_return;
  }
  spdlog::info("task {}: source changed or unverifiable; fetching it again", t->id.substr(0, 12));
  t->reset(task_phase::probing);
  co_await fetch(t);
}

}  // namespace damselfly::supernode
