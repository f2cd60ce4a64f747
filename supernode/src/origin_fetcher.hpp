// SPDX-License-Identifier: Apache-2.0
// Back-to-source: fetches a task from its origin once, into the cache, piece by piece.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "damselfly/common/deferred_calls.hpp"
#include "damselfly/common/http_client.hpp"
#include "damselfly/common/metrics.hpp"
#include "damselfly/common/origin_reader.hpp"
#include "damselfly/supernode/config.hpp"
#include "damselfly/supernode_storage/cache_store.hpp"
#include "task.hpp"

namespace damselfly::supernode {

/// Probes the origin with a one-byte Range request. A 206 answer means Range
/// support: pieces are then fetched by `origin_concurrency` parallel Range
/// requests. A 200 answer is consumed as the single stream it is (no second
/// request). Every piece is hashed as it arrives and becomes servable at once.
class origin_fetcher {
 public:
  origin_fetcher(boost::asio::any_io_executor ex, const supernode_config& cfg, cache_store& cache,
                 metrics_registry& metrics);
  /// Drops the flushes still to come (the supernode is stopping; the
  /// entries stay valid within this boot).
  void cancel_deferred() { durable_later_.cancel_all(); }
  /// Ends the origin transfers running on their own threads at their next
  /// chunk: the fetches' cancellation does not reach those threads.
  void abort_transfers() noexcept { aborting_ = true; }
  /// The supernode is stopping: a task taken over from a replica fetches
  /// nothing more (its peers are moving to the next supernode).
  void drain() noexcept { draining_ = true; }
  /// Whether the task's owner (by the fleet's hashing) answers: a task taken
  /// over fetches nothing while it does, for a while (see fetch()).
  using owner_probe = std::function<boost::asio::awaitable<bool>(std::string task_id)>;
  void set_owner_probe(owner_probe probe) { owner_answers_ = std::move(probe); }

  /// Fetches `t` (phase probing) to done or failed.
  boost::asio::awaitable<void> fetch(std::shared_ptr<task> t) {
    auto headers = t->source.headers;
    return fetch(std::move(t), std::move(headers));
  }
  /// The fetch with these request headers instead of the task's own.
  boost::asio::awaitable<void> fetch(std::shared_ptr<task> t,
                                     std::map<std::string, std::string> headers);
  /// For a done task: digests the whole file (digest_after from now), then
  /// flushes its data and writes its cache entry as durable (durable_after).
  /// A task loaded without its digest (the supernode stopped before it was
  /// made) gets it this way too.
  void finish_later(const std::shared_ptr<task>& t);
  /// Re-checks a done task against the origin; on any change refetches it.
  /// `headers`: the registrant's, sent for the re-check and, if the source
  /// changed, for the fetch that follows (a task loaded from the cache has none).
  boost::asio::awaitable<void> validate(std::shared_ptr<task> t,
                                        std::map<std::string, std::string> headers);

 private:
  /// Marks the task done and commits the cache entry; digests the whole
  /// file and makes the entry durable later.
  void complete(const std::shared_ptr<task>& t);
  /// Writes the cache entry of `t` if it is still generation `gen` and done.
  void persist(const std::shared_ptr<task>& t, std::uint64_t gen, bool data_synced);
  /// How long after a fetch its cache data is flushed to disk.
  static constexpr std::chrono::seconds durable_after{30};
  /// How long after a fetch the whole-file digest is computed (before the flush).
  static constexpr std::chrono::seconds digest_after{5};
  static_assert(digest_after < durable_after);
  http_client_options origin_client_options() const;
  void fail(task& t, const origin_result& r);
  /// Why a file of `length` bytes (-1: unknown) is not taken; empty when it is.
  std::string refuse_size(std::int64_t length) const;

  boost::asio::any_io_executor ex_;
  const supernode_config& cfg_;
  cache_store& cache_;
  metric_value& source_bytes_;
  metric_value& origin_requests_;
  metric_value& origin_failures_;
  bool draining_ = false;
  std::atomic<bool> aborting_{false};
  owner_probe owner_answers_;
  deferred_calls durable_later_;  ///< the flushes to come, dropped when stopping
  /// The origins' connections: pieces received, hashed and written there
  /// (see fetch()); a thread per core, up to a fetch's default connections.
  boost::asio::thread_pool origin_io_{
      std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4)};
  boost::asio::thread_pool hasher_{1};  ///< last members: joined before the rest goes away
};

}  // namespace damselfly::supernode
