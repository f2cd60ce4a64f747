// SPDX-License-Identifier: Apache-2.0
// The daemon's standing link to the supernodes: heartbeats, and announcing what it holds.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "damselfly/dfget/daemon.hpp"
#include "supernode_client.hpp"
#include "task_cache.hpp"

namespace damselfly::dfget {

/// Heartbeats every cfg.heartbeat_interval with the tasks this host serves;
/// tasks a (restarted) supernode does not know are announced again with
/// their bitmaps, and pieces of a source that moved on are dropped. Downloads
/// register, sync and leave through their engine's own supernode_client.
class supernode_link {
 public:
  supernode_link(boost::asio::any_io_executor ex, const daemon_config& cfg, task_cache& tasks,
                 const peer_profile& me);

  /// Heartbeats until cancelled; evicts by the cache limits after each.
  boost::asio::awaitable<void> run();

  /// Runs a job a supernode gave this host; it reports through job_progress.
  using job_runner = std::function<void(proto::job_order)>;
  void on_job(job_runner run) { run_job_ = std::move(run); }
  /// How a job this host runs stands; sent with every heartbeat until the
  /// supernodes stop listing it.
  void job_progress(proto::job_report report);

 private:
  boost::asio::awaitable<void> heartbeat_once();
  /// Keeps the key supernode `index` gave this host (in the data dir, so a
  /// restarted daemon goes on speaking for its host id).
  void remember_host_key(std::size_t index, const std::string& key);
  boost::asio::awaitable<void> announce(const std::shared_ptr<task_file>& tf);

  boost::asio::any_io_executor ex_;
  const daemon_config& cfg_;
  task_cache& tasks_;
  const peer_profile& me_;  ///< this host, known once its piece server listens
  supernode_client client_;
  job_runner run_job_;
  std::map<std::string, proto::job_report> jobs_;  ///< jobs this host was given, by id
  std::filesystem::path keys_file_;                ///< DATA_DIR/host_keys.json
  std::map<std::string, std::string> host_keys_;   ///< supernode "HOST:PORT" -> its key
};

}  // namespace damselfly::dfget
