// SPDX-License-Identifier: Apache-2.0
// A local client's download inside the daemon: checks, the engine into the task store, publishing.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <optional>

#include "damselfly/common/deferred_calls.hpp"
#include "damselfly/common/metrics.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/dfget/daemon.hpp"
#include "damselfly/dfget/downloader.hpp"
#include "damselfly/dfget_storage/handed_output.hpp"
#include "damselfly/dfget_storage/tee_store.hpp"
#include "supernode_link.hpp"
#include "task_cache.hpp"

namespace damselfly::dfget {

using local_progress = std::function<void(const proto::local_event&)>;

/// How a local download ends: the final event and, when the output is the
/// cached file itself (`event.shared`), that file's read-only descriptor
/// for the client to link in place of its temporary.
struct local_verdict {
  proto::local_event event;
  unique_fd shared;
};

/// Runs downloads that local clients ask for: one per task at a time, pieces
/// kept in the task cache (so the task is served afterwards) and written,
/// each as it is verified, into the output the client handed over as a
/// descriptor (the client publishes it: the daemon opens no client path).
class download_runner {
 public:
  download_runner(boost::asio::any_io_executor ex, const daemon_config& cfg, task_cache& tasks,
                  metrics_registry& metrics, const peer_profile& me);
  /// Drops the durable saves still to come (the daemon is stopping and
  /// saves every task itself).
  void cancel_deferred() { durable_later_.cancel_all(); }

  /// The final "done" or "error" event; progress events go to `progress`.
  /// `output`: the client's temporary output file, received with the request.
  /// `may_share`: the client could link the cached file (it is root or the
  /// daemon's own user, who can write the cache anyway); with
  /// `req.accept_shared` and the output on the cache's file system the
  /// output is not written at all, and the verdict carries the cached file.
  boost::asio::awaitable<local_verdict> run(const proto::local_request& req, unique_fd output,
                                            const local_progress& progress, bool may_share);

 private:
  /// What run() checked and derived from the request before downloading.
  struct checked_request {
    std::string task_id;
    download_request engine;
    bool private_task = false;  ///< carries credentials: never cached nor served
  };
  /// Validates `req`; on failure fills `failure` and returns nothing.
  std::optional<checked_request> check(const proto::local_request& req,
                                       proto::local_event& failure);
  downloader_options engine_options(const proto::local_request& req) const;
  /// Runs the engine into the task's files and, as each piece is verified,
  /// the client's output (through `tee`; not when `share` stays true: the
  /// output is then the task's file itself); starts over once when the
  /// pieces on disk belong to an older version of the source.
  boost::asio::awaitable<download_outcome> fetch(const proto::local_request& req,
                                                 checked_request& job,
                                                 std::shared_ptr<task_file>& tf, handed_output& out,
                                                 std::optional<tee_store>& tee, bool& share,
                                                 const local_progress& progress);
  /// A private download: the engine writes the client's output directly, as
  /// a standalone dfget would; nothing enters the cache, nothing is served.
  boost::asio::awaitable<proto::local_event> run_private(const proto::local_request& req,
                                                         checked_request& job, handed_output& out,
                                                         const local_progress& progress);
  /// Makes a finished task durable `durable_after` from now, off the I/O thread.
  void sync_later(std::shared_ptr<task_file> tf, std::string task_id);
  static constexpr std::chrono::seconds durable_after{30};
  /// Records the finished task and completes the client's output with what
  /// did not pass through `tee` during the download, or, with `share`, hands
  /// the client the task's file itself (falling back to the copy if the
  /// file cannot be shared).
  local_verdict publish(const proto::local_request& req, const std::string& task_id, task_file& tf,
                        handed_output& out, tee_store& tee, bool share,
                        const download_outcome& outcome);
  /// The task's complete file as the client's output: stamped, recorded as
  /// shared, and opened read-only for the client. Nothing when it cannot be.
  unique_fd share_file(const std::string& task_id, task_file& tf, std::uint64_t length);
  proto::local_event failure(error_code ec, std::string message);
  /// A note for a client that named other supernodes than this daemon's (empty if the same).
  std::string other_supernodes(const proto::local_request& req) const;
  /// What the client asked of the daemon itself that this one does not do
  /// (other supernodes, another total cap), or empty.
  std::string ignored_settings(const proto::local_request& req) const;
  static proto::local_event done_event(std::uint64_t length, const download_summary& summary);

  boost::asio::any_io_executor ex_;
  /// Makes finished tasks durable (data sync, then the bitmap) off the I/O thread.
  boost::asio::thread_pool syncer_{1};
  deferred_calls durable_later_{ex_};
  const daemon_config& cfg_;
  task_cache& tasks_;
  const peer_profile& me_;
  std::shared_ptr<rate_limiter> total_limiter_;  ///< all downloads together; null: none
  download_counters counters_;
  metric_value& downloads_ok_;
  metric_value& downloads_failed_;
};

}  // namespace damselfly::dfget
