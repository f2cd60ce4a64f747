// SPDX-License-Identifier: Apache-2.0
// Origin fetch: probe, parallel Range pieces or one stream, hashing and caching as bytes arrive.
#include "origin_fetcher.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "damselfly/common/http_client.hpp"
#include "damselfly/common/origin_reader.hpp"

namespace damselfly::supernode {

namespace asio = boost::asio;

namespace {

std::string version_of(const std::string& etag, const std::string& last_modified,
                       std::int64_t length) {
  if (etag.empty() && last_modified.empty()) {
    // No validators: every fetch is its own version.
    return sha256_hex(std::to_string(task::clock::now().time_since_epoch().count())).substr(0, 16);
  }
  return sha256_hex(etag + "\n" + last_modified + "\n" + std::to_string(length)).substr(0, 16);
}

}  // namespace

origin_fetcher::origin_fetcher(asio::any_io_executor ex, const supernode_config& cfg,
                               cache_store& cache, metrics_registry& metrics)
    : ex_(std::move(ex)),
      cfg_(cfg),
      cache_(cache),
      source_bytes_(metrics.counter("damselfly_supernode_source_bytes_total",
                                    "Body bytes received from origins")),
      origin_requests_(metrics.counter("damselfly_supernode_origin_fetches_total",
                                       "Origin fetches and validations started")),
      origin_failures_(metrics.counter("damselfly_supernode_origin_failures_total",
                                       "Tasks failed because of the origin")),
      durable_later_(ex_) {}

http_client_options origin_fetcher::origin_client_options() const {
  http_client_options o;
  o.io_timeout = cfg_.origin_timeout;
  o.connect_timeout = cfg_.origin_timeout;
  o.tls = cfg_.origin_tls;
  if (auto policy = cfg_.origin_policy)
    o.vet_address = [policy](std::string_view host, std::string_view ip, std::uint16_t port) {
      return policy->check(host, ip, port);
    };
  return o;
}

std::string origin_fetcher::refuse_size(std::int64_t length) const {
  if (length < 0) return {};  // a stream: checked as it grows
  auto size = static_cast<std::uint64_t>(length);
  if (size > cfg_.max_file_size)
    return "the origin announces " + std::to_string(size) +
           " bytes; this supernode takes at most " + std::to_string(cfg_.max_file_size) +
           " (--max-file-size)";
  auto free_bytes = cache_.free_space();
  if (size > free_bytes)
    return "the origin announces " + std::to_string(size) + " bytes; the cache has " +
           std::to_string(free_bytes) + " free";
  return {};
}

void origin_fetcher::fail(task& t, const origin_result& r) {
  auto text = describe_origin_failure(t.url, r);
  proto::error_info e{text.code, text.message, "", r.http_status};
  spdlog::warn("task {}: {}", t.id.substr(0, 12), e.message);
  origin_failures_.add();
  cache_.remove(t.id);
  t.fail(std::move(e));
}

asio::awaitable<void> origin_fetcher::fetch(std::shared_ptr<task> t,
                                            std::map<std::string, std::string> headers) {
  const auto generation = t->generation;
  // A second pass of a task taken over from a replica adds to the pieces cached so far.
  auto data = t->from_replica && t->fd ? result<std::shared_ptr<const unique_fd>>(t->fd)
                                       : cache_.create_data(t->id);
  if (!data) {
    t->fail({"cache_io", "supernode cannot create cache file: " + data.error().message(), "", 0});
    co_return;
  }
  auto fd = *data;
  if (t->from_replica) {
    // Taken over from the owner: the task's peers register here within a
    // heartbeat or a sync; what they hold is then not fetched at all. Once
    // as many have registered as the owner last counted, with as many pieces
    // (seeders may come last, with their next heartbeat), waiting longer
    // only delays the pieces nobody holds.
    const auto until = std::chrono::steady_clock::now() + cfg_.replica_grace;
    asio::steady_timer grace(ex_);
    while (t->generation == generation && !draining_ && !t->replica_gathered() &&
           std::chrono::steady_clock::now() < until) {
      grace.expires_after(
          std::min<std::chrono::milliseconds>(cfg_.replica_grace, std::chrono::milliseconds(100)));
      co_await grace.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (t->generation != generation || draining_) co_return;
    // Its peers went back to the owner, or finished: nothing to fetch for
    // anyone (the housekeeping starts a fetch when someone needs a piece).
    if (t->swarm.nobody_downloading(static_cast<std::uint64_t>(t->piece_count()))) co_return;
    // The owner answers again (a restart): its peers go back to it, one by
    // one as each finds it back, and what the ones still here lack is on
    // its disk; fetching that here would copy the file from the origin
    // again. The housekeeping tries again; after owner_deference the peers
    // still here are served whatever the owner does (they may not reach
    // it). An owner that stopped gracefully is most likely restarting: it
    // gets owner_restart_wait to come back before the origin is asked.
    for (;;) {
      auto since = task::clock::now() - t->adopted_at;
      if (owner_answers_ && since < cfg_.owner_deference && co_await owner_answers_(t->id)) {
        spdlog::info("task {}: its owner answers again; not fetching for it", t->id.substr(0, 12));
        co_return;
      }
      if (t->generation != generation || draining_) co_return;
      if (!owner_answers_ || !t->owner_stopping || since >= cfg_.owner_restart_wait) break;
      grace.expires_after(std::chrono::milliseconds(500));
      co_await grace.async_wait(asio::as_tuple(asio::use_awaitable));
      if (t->generation != generation || draining_) co_return;
    }
  }
  std::string diverged;  // why the origin's file is not the one the replica describes
  origin_reader_options opts;
  opts.client = origin_client_options();
  opts.sizing = cfg_.sizing;
  opts.concurrency = cfg_.origin_concurrency;
  opts.retries = cfg_.origin_retries;
  // Receiving, hashing and caching origin pieces is most of a fetch's CPU:
  // on threads of their own, while this one serves clients.
  opts.io_pool = origin_io_.get_executor();
  opts.abort = &aborting_;
  origin_reader reader(ex_, t->url, headers, opts);
  origin_sink sink;
  sink.cancelled = [&] { return t->generation != generation || !diverged.empty(); };
  if (t->from_replica)
    // Fetched: what a peer here lacks and no peer here can serve. A piece
    // whose digest did not reach us (the owner died within its last
    // replication round) counts as nobody's: a peer's copy cannot be
    // checked, and without the digest nobody would ever be sent it. Peers
    // that went back to their owner (it answers again) need nothing from
    // here; the housekeeping fetches a piece once someone here needs it.
    sink.skip = [&](std::uint64_t i) {
      if (i >= t->ready.size() || t->ready[i]) return true;
      auto holders = t->swarm.availability(i);
      if (holders >= t->swarm.peer_count()) return true;  // nobody here lacks it
      return !t->digests[i].empty() && holders > 0;
    };
  sink.on_bytes = [&](std::uint64_t n) {
    source_bytes_.add(n);
    t->origin_bytes += n;
  };
  std::string refusal;  // why the announced size is not taken
  sink.on_layout = [&](const origin_layout& l) -> error_code {
    refusal = refuse_size(l.length);
    if (!refusal.empty()) return errc::invalid_argument;
    if (t->from_replica) {
      // The owner's digests hold only for the file it fetched: same length
      // and layout, and the same validators when the origin gives any.
      bool same = l.length == t->content_length && l.piece_size == t->piece_size &&
                  l.etag == t->etag && l.last_modified == t->last_modified;
      if (!same) {
        diverged = "the origin's file is not the one the owner's digests describe";
        return errc::source_changed;
      }
      t->fd = fd;
      t->notify();
      return {};
    }
    t->etag = l.etag;
    t->last_modified = l.last_modified;
    t->set_layout(l.length, l.piece_size);
    t->version = version_of(t->etag, t->last_modified, t->content_length);
    t->phase = task_phase::fetching;
    t->fd = fd;
    t->notify();
    return {};
  };
  sink.on_data = [&](std::uint64_t offset, std::span<const std::byte> bytes) -> error_code {
    // A stream of unknown length is held to the size limit as it grows.
    if (offset + bytes.size() > cfg_.max_file_size) {
      refusal = "the origin sent more than " + std::to_string(cfg_.max_file_size) +
                " bytes (--max-file-size)";
      return errc::invalid_argument;
    }
    return cache_store::write_at(*fd, offset, bytes);
  };
  sink.on_piece = [&](std::uint64_t index, std::string sha) {
    if (t->from_replica && index < t->digests.size() && !t->digests[index].empty() &&
        t->digests[index] != sha) {
      diverged =
          "piece " + std::to_string(index) + " from the origin differs from the owner's digest";
      return;
    }
    t->piece_ready(index, std::move(sha));
  };
  origin_requests_.add();
  auto r = co_await reader.fetch(sink);
  // Stopping: the task is neither failed nor done, and its cache entry stays.
  if (t->generation != generation || aborting_) co_return;
  if (!diverged.empty()) {
    spdlog::warn("task {}: {}; fetching it afresh", t->id.substr(0, 12), diverged);
    cache_.remove(t->id);
    t->fail({"source_changed", diverged, "", 0});
    co_return;
  }
  if (!refusal.empty()) {
    spdlog::warn("task {}: {}", t->id.substr(0, 12), refusal);
    origin_failures_.add();
    cache_.remove(t->id);
    t->fail({"origin_too_large", refusal, "", 0});
    co_return;
  }
  if (r.ec) {
    fail(*t, r);
    co_return;
  }
  t->set_layout(r.layout.length, r.layout.piece_size);
  if (t->from_replica && !t->all_ready()) {
    // The rest is with peers; the housekeeping fetches what they no longer hold.
    spdlog::info("task {}: {} of {} pieces fetched; peers hold the rest", t->id.substr(0, 12),
                 t->ready_count, t->piece_count());
    t->notify();
    co_return;
  }
  complete(t);
}

void origin_fetcher::complete(const std::shared_ptr<task>& t) {
  t->phase = task_phase::done;
  t->validated_at = task::clock::now();
  spdlog::info("task {} cached: {} bytes in {} pieces from {}", t->id.substr(0, 12),
               t->content_length, t->piece_count(), t->url.text);
  t->notify();
  // meta.json is written at once, naming this boot; the data is flushed
  // later (a flush now would hold up the disk that the first clients are
  // writing their copies to; one on the I/O thread stalled every transfer),
  // then meta.json is written again without the boot. The whole-file digest
  // reads and hashes the cache once more, for operators and successors, not
  // for clients: it waits until the first clients have had their copies
  // (run at once, its CPU was a tenth of a cold client's time on a machine
  // shared with the client).
  persist(t, t->generation, false);
  finish_later(t);
}

void origin_fetcher::finish_later(const std::shared_ptr<task>& t) {
  auto gen = t->generation;
  durable_later_.after(digest_after, [this, t, gen] {
    if (t->generation != gen || !t->fd) return;
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
        persist(t, gen, false);
      });
    });
  });
  // On the same one hashing thread, after the digest (digest_after <
  // durable_after): the entry made durable has the digest.
  durable_later_.after(durable_after, [this, t, gen] {
    if (t->generation != gen || !t->fd) return;
    asio::post(hasher_, [this, t, gen, fd = t->fd] {
      auto flushed = cache_store::sync_data(*fd);
      asio::post(ex_, [this, t, gen, flushed] {
        if (flushed) {
          spdlog::warn("task {}: cannot flush the cache: {}", t->id.substr(0, 12),
                       flushed.message());
          return;
        }
        persist(t, gen, true);
      });
    });
  });
}

void origin_fetcher::persist(const std::shared_ptr<task>& t, std::uint64_t gen, bool data_synced) {
  if (t->generation != gen || t->phase != task_phase::done) return;
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
  if (auto ec = cache_.write_meta(meta, data_synced))
    spdlog::warn("task {}: cannot persist cache metadata: {}", t->id.substr(0, 12), ec.message());
}

asio::awaitable<void> origin_fetcher::validate(std::shared_ptr<task> t,
                                               std::map<std::string, std::string> headers) {
  auto gen = t->generation;
  origin_reader_options opts;
  opts.client = origin_client_options();
  opts.sizing = cfg_.sizing;
  origin_reader reader(ex_, t->url, headers, opts);
  const std::function<void(std::uint64_t)> count = [&](std::uint64_t n) {
    source_bytes_.add(n);
    t->origin_bytes += n;
  };
  origin_requests_.add();
  auto r = co_await reader.probe(count);
  if (t->generation != gen) co_return;
  if (r.ec) {
    fail(*t, r);
    co_return;
  }
  const auto& now = r.layout;
  bool has_validators = !now.etag.empty() || !now.last_modified.empty();
  bool same = has_validators && now.etag == t->etag && now.last_modified == t->last_modified &&
              now.length == t->content_length;
  if (same) {
    t->phase = task_phase::done;
    t->validated_at = task::clock::now();
    t->notify();
    co_return;
  }
  spdlog::info("task {}: source changed or unverifiable; fetching it again", t->id.substr(0, 12));
  t->reset(task_phase::probing);
  co_await fetch(t, std::move(headers));
}

}  // namespace damselfly::supernode
