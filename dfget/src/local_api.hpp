// SPDX-License-Identifier: Apache-2.0
// The daemon's unix socket: one JSON request line per client, progress lines, one verdict.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <filesystem>
#include <functional>

#include "damselfly/common/error.hpp"
#include "damselfly/common/task_group.hpp"
#include "download_runner.hpp"
#include "task_cache.hpp"

namespace damselfly::dfget {

/// Accepts local clients on a unix socket. Each client is known by its
/// kernel-reported credentials (SO_PEERCRED). A download request comes with
/// the descriptor of the client's own temporary output (SCM_RIGHTS) and is
/// handed to the download_runner and answered with progress at most every 200 ms (the
/// download never waits on a slow client) and a final "done"/"error" line;
/// cache commands are answered by the task_cache.
class local_api {
 public:
  local_api(boost::asio::any_io_executor ex, std::filesystem::path socket_path, task_cache& tasks,
            download_runner& downloads, task_group& group);

  /// Binds the socket; refuses to take over one that a live daemon answers on.
  error_code open();
  /// Starts accepting; each client runs as a member of the group.
  void start();
  /// Stops accepting; clients in progress go on until cancelled.
  void stop();
  std::size_t clients() const noexcept { return clients_; }

 private:
  /// Socket mode 0600 (0660 and group damselfly for root's daemon), whatever the umask.
  void restrict_socket();
  using socket = boost::asio::local::stream_protocol::socket;
  struct client;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(socket sock);
  boost::asio::awaitable<local_verdict> answer(client& c, std::string_view line);
  boost::asio::awaitable<local_verdict> download(client& c, const proto::local_request& req);
  /// Whether the client may run cache commands: root, or the daemon's own user.
  bool may_manage_cache(const client& c) const;
  boost::asio::awaitable<void> pump_progress(client& c);

  boost::asio::any_io_executor ex_;
  std::filesystem::path socket_path_;
  task_cache& tasks_;
  download_runner& downloads_;
  task_group& group_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::size_t clients_ = 0;
};

}  // namespace damselfly::dfget
