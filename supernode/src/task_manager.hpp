// SPDX-License-Identifier: Apache-2.0
// The supernode's tasks: creation on first registration, reuse of the cache, restarts.
#pragma once

#include "damselfly/common/task_group.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "damselfly/common/metrics.hpp"
#include "damselfly/supernode/config.hpp"
#include "damselfly/supernode_storage/cache_store.hpp"
#include "origin_fetcher.hpp"
#include "task.hpp"

namespace damselfly::supernode {

class task_manager {
 public:
  task_manager(boost::asio::any_io_executor ex, const supernode_config& cfg,
               metrics_registry& metrics);

  /// Creates the cache directories and loads complete tasks from a previous run.
  error_code init();
  /// The task for `id`, creating it (and starting the origin fetch) when new,
  /// refetching it when it failed a while ago, and re-checking a cached copy
  /// whose last check is older than the recheck interval.
  /// `client` is the registering address, charged for a task it starts.
  std::shared_ptr<task> ensure(const std::string& id, const proto::register_request& req,
                               const http_url& url, const std::string& client);
  /// Whether a registration of `id` by `client` would start a task that
  /// takes `client` past cfg.max_tasks_per_address unfinished tasks.
  bool over_task_limit(const std::string& id, const std::string& client) const;
  std::shared_ptr<task> find(const std::string& id) const;
  /// The task a registration (or a job) with this identity and these origin
  /// headers names: the public id, or a private one keyed by the credentials
  /// among the headers. Nothing when the URL cannot be normalized.
  std::optional<std::string> task_id_for(const task_identity& identity,
                                         const std::map<std::string, std::string>& headers) const;
  /// Every task (for the replicator).
  std::vector<std::shared_ptr<task>> all() const;
  /// Merges a run of the owner's replica of a task into the one kept here,
  /// which a later first registration adopts instead of starting from
  /// nothing (a replica of another layout or version replaces it). A task
  /// already taken over learns the digests too. Returns how many digests of
  /// the task are now kept. Written to disk by the housekeeping.
  std::uint64_t store_replica(const proto::task_replica& r);
  /// Writes the replicas that changed since the last call to disk.
  void flush_replicas();
  std::size_t replica_count() const noexcept { return replicas_.size(); }
  /// Peers across all tasks (for the peers gauge).
  std::size_t peer_count() const;
  /// Periodic housekeeping: expires silent peers and lost assignments, and
  /// evicts cached files by quota, free-space watermark and TTL.
  void tick();
  /// The eviction part of tick(); returns how many tasks went.
  std::size_t collect_garbage();
  /// The supernode is stopping gracefully: no takeover fetches from now on.
  void drain() noexcept { fetcher_.drain(); }
  /// See origin_fetcher::set_owner_probe.
  void set_owner_probe(origin_fetcher::owner_probe probe) {
    fetcher_.set_owner_probe(std::move(probe));
  }
  /// Cancels every origin fetch and re-check (the supernode is stopping).
  void cancel() {
    stopping_ = true;
    fetches_.cancel();
    fetcher_.abort_transfers();
    fetcher_.cancel_deferred();
    flush_replicas();
  }
  /// Origin fetches running and waiting for a slot.
  std::size_t fetches_running() const noexcept { return fetching_; }
  std::size_t fetches_queued() const noexcept { return queued_.size(); }

 private:
  /// Starts the origin fetch of `t` now, or queues it while
  /// cfg.max_origin_fetches run.
  void start_fetch(const std::shared_ptr<task>& t);
  boost::asio::awaitable<void> run_fetch(std::shared_ptr<task> t);
  /// Starts queued fetches while slots are free.
  void start_queued();
  void update_fetch_gauges();
  /// Whether the registration would (re)start an origin fetch for `id`.
  bool would_start(const std::string& id) const;
  /// Removes tasks that failed longer than cfg.forget_failed_after ago.
  void forget_failed(task::clock::time_point now);
  std::shared_ptr<task> make_task(const std::string& id, const proto::register_request& req,
                                  const http_url& url);
  /// Keeps a replica in memory (store_replica also writes it to disk).
  void remember_replica(proto::task_replica r);
  void forget_replica(const std::string& id);
  static std::uint64_t known_digests(const proto::task_replica& r);
  /// Fetches again, for tasks taken over from a replica, the pieces that
  /// nobody holds any more (their holders left).
  void refill_replicated();

  boost::asio::any_io_executor ex_;
  const supernode_config& cfg_;
  cache_store cache_;
  origin_fetcher fetcher_;
  metric_value& tasks_gauge_;
  metric_value& evictions_;
  metric_value& fetches_running_gauge_;
  metric_value& fetches_queued_gauge_;
  metric_value& replicas_gauge_;
  metric_value& replica_digests_gauge_;
  metric_value& takeovers_;
  std::map<std::string, std::shared_ptr<task>> tasks_;
  std::map<std::string, proto::task_replica> replicas_;
  std::deque<std::string> replica_order_;   ///< arrival order, for the cap
  std::set<std::string> replicas_dirty_;    ///< changed since written to disk
  std::uint64_t replica_digests_ = 0;       ///< digests in replicas_
  std::deque<std::weak_ptr<task>> queued_;  ///< new tasks waiting for a fetch slot
  std::size_t fetching_ = 0;                ///< fetches holding a slot
  bool stopping_ = false;
  task_group fetches_;  ///< origin fetches and re-checks
};

}  // namespace damselfly::supernode
