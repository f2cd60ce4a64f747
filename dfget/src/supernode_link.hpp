// SPDX-License-Identifier: Apache-2.0
// The daemon's standing link to the supernodes: heartbeats, and announcing what it holds.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
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

 private:
  boost::asio::awaitable<void> heartbeat_once();
  boost::asio::awaitable<void> announce(const std::shared_ptr<task_file>& tf);

  boost::asio::any_io_executor ex_;
  const daemon_config& cfg_;
  task_cache& tasks_;
  const peer_profile& me_;  ///< this host, known once its piece server listens
  supernode_client client_;
};

}  // namespace damselfly::dfget
