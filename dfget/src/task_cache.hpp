// SPDX-License-Identifier: Apache-2.0
// The daemon's tasks on disk: the task map, who is downloading or uploading what, eviction.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "damselfly/common/async_event.hpp"
#include "damselfly/common/metrics.hpp"
#include "damselfly/dfget/daemon.hpp"
#include "damselfly/dfget_storage/task_store.hpp"
#include "damselfly/proto/messages.hpp"

namespace damselfly::dfget {

/// Owns the task store and the map of tasks held. A task being downloaded or
/// uploaded is busy and never evicted. Used on the daemon's executor only.
class task_cache {
 public:
  task_cache(boost::asio::any_io_executor ex, const daemon_config& cfg, metrics_registry& metrics);

  /// Creates the data dir and loads the tasks already on disk.
  error_code init();
  std::size_t size() const noexcept { return tasks_.size(); }
  /// The task if held; null otherwise (also for a shared task whose file
  /// was written since: it is removed).
  std::shared_ptr<task_file> find(const std::string& task_id);
  /// Opens (creating if new) a task's files and lists it; a shared task
  /// whose file was written since starts over.
  result<std::shared_ptr<task_file>> open(const std::string& task_id);
  /// Forgets a task and deletes its files.
  void remove(const std::string& task_id);
  /// Tasks held and not being downloaded: what this host serves.
  std::vector<std::string> serving();

  /// Suspends while another download of the task runs, then marks it downloading.
  boost::asio::awaitable<void> begin_download(const std::string& task_id);
  void end_download(const std::string& task_id);
  bool downloading(const std::string& task_id) const { return downloading_.contains(task_id); }
  std::size_t downloads() const noexcept { return downloading_.size(); }
  void upload_started(const std::string& task_id) { ++uploads_[task_id]; }
  void upload_finished(const std::string& task_id);

  /// Evicts finished, idle tasks by TTL, quota and free-space watermark (LRU
  /// first); with `only`, removes just that task if it is idle. Returns what went.
  std::vector<proto::cache_entry> collect_garbage(const std::string& only = "");
  /// Answers `dfget cache list|rm|gc`.
  proto::local_event command(const proto::local_request& req);
  /// Saves every task's metadata (bitmaps), as on stop.
  void save_all();

  /// What a task gained here lately, for the have streams of the
  /// parent-set protocol; kept in memory only (a restarted daemon serves
  /// its pieces without signatures, and children then have them checked
  /// by the supernode).
  struct task_news {
    explicit task_news(boost::asio::any_io_executor ex) : changed(std::move(ex)) {}
    async_event changed;                  ///< a piece was added, or the task went
    std::vector<std::uint64_t> arrivals;  ///< pieces in the order they were verified here
    std::map<std::uint64_t, std::string> signed_digests;  ///< as they came with the pieces
    bool gone = false;                                    ///< the task was removed
    /// While this host downloads the task with parent sets: whether the
    /// peer at an upload address said it holds a piece (null otherwise).
    std::function<bool(std::string_view addr, std::uint64_t piece)> peer_holds;
  };
  /// A piece of `task_id` was verified and written here; `signed_digest`:
  /// the supernode's signature of its digest that came with it (or empty).
  void piece_added(const std::string& task_id, std::uint64_t piece, std::string signed_digest);
  /// The task's news (made on first use).
  std::shared_ptr<task_news> news(const std::string& task_id);
  /// The signature that came with `piece`, or empty.
  std::string signed_digest(const std::string& task_id, std::uint64_t piece) const;

 private:
  std::vector<proto::cache_entry> entries() const;
  /// Removes `task_id` if its file was shared with a client and written
  /// since (task_file::tampered); true if it went.
  bool drop_if_tampered(const std::string& task_id, const task_file& tf);
  bool should_evict(const proto::cache_entry& e, std::uint64_t usage, std::uint64_t free_bytes,
                    std::int64_t now) const;

  const daemon_config& cfg_;
  task_store store_;
  std::map<std::string, std::shared_ptr<task_file>> tasks_;
  std::set<std::string> downloading_;
  std::map<std::string, unsigned> uploads_;  ///< uploads in progress, per task
  /// Peer keys of tasks removed lately: the supernode may still list this
  /// host for them, and registering again takes the old key.
  std::map<std::string, std::string> retired_keys_;
  void retire_key(const std::string& task_id, std::string key);
  async_event download_ended_;
  metric_value& evictions_;
  metric_value& tasks_gauge_;
  boost::asio::any_io_executor ex_;
  std::map<std::string, std::shared_ptr<task_news>> news_;
};

/// Marks a task downloading for its lifetime (see task_cache::begin_download).
class download_lease {
 public:
  download_lease(task_cache& cache, std::string task_id)
      : cache_(cache), task_id_(std::move(task_id)) {}
  ~download_lease() { cache_.end_download(task_id_); }
  download_lease(const download_lease&) = delete;
  download_lease& operator=(const download_lease&) = delete;

 private:
  task_cache& cache_;
  std::string task_id_;
};

}  // namespace damselfly::dfget
