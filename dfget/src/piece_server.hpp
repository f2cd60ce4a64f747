// SPDX-License-Identifier: Apache-2.0
// The daemon's HTTP side: GET /pieces for other peers (upload slots, rate cap), health, metrics.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "damselfly/common/disk_gauges.hpp"
#include "damselfly/common/http_router.hpp"
#include "damselfly/common/http_server.hpp"
#include "damselfly/common/metrics.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/ticket_memo.hpp"
#include "damselfly/dfget/daemon.hpp"
#include "task_cache.hpp"

namespace damselfly::dfget {

/// Serves verified ranges of the tasks in `tasks` with sendfile. At most
/// cfg.upload_slots uploads run at once (more get 503 busy, and the asking
/// peer is given another source); all uploads share cfg.upload_rate.
class piece_server {
 public:
  piece_server(boost::asio::any_io_executor ex, const daemon_config& cfg, task_cache& tasks,
               metrics_registry& metrics);

  result<std::uint16_t> listen(const std::string& address, std::uint16_t port) {
    return server_.listen(address, port);
  }
  /// Serves HTTPS with `ctx` on connections accepted from now on.
  void use_tls(std::shared_ptr<const tls_server_context> ctx) { server_.use_tls(std::move(ctx)); }
  void start() { server_.start(); }
  /// Stops accepting; uploads in progress finish.
  void stop() { server_.stop(); }
  /// Closes every connection, uploads in progress too.
  void close_all() { server_.close_all(); }
  std::size_t connections() const { return server_.connections(); }
  unsigned uploads_active() const noexcept { return uploads_active_; }
  /// The route table, for middleware (authentication) to be added to.
  http_router& routes() noexcept { return router_; }

 private:
  /// The server's settings: which request fields a connection keeps.
  static http_server_options server_options();
  http_response serve_pieces(const http_request& req, const std::string& task_id);
  /// The have stream of a task (proto/have_stream.hpp), to its peers only.
  http_response serve_haves(const http_request& req, const std::string& task_id);
  /// Why `req` gets nothing of `task_id` (not ready, not registered, no
  /// valid ticket), or nothing when it may.
  std::optional<http_response> refuse(const http_request& req, const std::string& task_id,
                                      const task_meta& meta);

  const daemon_config& cfg_;
  task_cache& tasks_;
  metrics_registry& metrics_;
  std::shared_ptr<rate_limiter> upload_limiter_;  ///< null when unlimited
  unsigned uploads_active_ = 0;
  metric_value& uploaded_;
  metric_value& uploads_refused_;
  metric_value& haves_sent_;     ///< piece numbers told on have streams
  metric_value& haves_skipped_;  ///< and left out: the child said it holds them
  ticket_memo tickets_;          ///< every piece request carries a ticket
  disk_gauges disk_;
  http_router router_;
  http_server server_;
};

}  // namespace damselfly::dfget
