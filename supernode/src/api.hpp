// SPDX-License-Identifier: Apache-2.0
// The supernode's HTTP routes: v1 task API, piece serving, health and metrics.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "damselfly/common/disk_gauges.hpp"
#include "damselfly/common/http_message.hpp"
#include "damselfly/common/http_router.hpp"
#include "damselfly/common/metrics.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/ticket_signer.hpp"
#include "damselfly/common/ticket_verifier.hpp"
#include "damselfly/supernode/config.hpp"
#include "dashboard.hpp"
#include "host_board.hpp"
#include "job_manager.hpp"
#include "task_manager.hpp"

namespace damselfly::supernode {

class api {
 public:
  api(const supernode_config& cfg, task_manager& tasks, job_manager& jobs, host_board& board,
      metrics_registry& metrics);

  /// Routes one request; never throws for bad input (answers 4xx JSON instead).
  boost::asio::awaitable<http_response> handle(http_request& req);
  /// What needs no state, done before handle() and possibly on another
  /// thread (http_server_options::prepare): a sync's or a registration's
  /// body decoded.
  static void prepare(http_request& req);
  /// The route table, for middleware (authentication) to be added to.
  http_router& routes() noexcept { return router_; }
  /// The key that signs this supernode's piece tickets (set before serving).
  void use_ticket_key(ticket_signer signer);
  /// Where tickets are signed, off the thread that handles requests (the
  /// connection threads, taken in turn); none: on that thread. The signer's
  /// key is only read there (OpenSSL lets threads sign with one EVP_PKEY at
  /// once).
  void sign_on(std::vector<boost::asio::any_io_executor> ex) { signing_ = std::move(ex); }

 private:
  void add_routes();
  boost::asio::awaitable<http_response> register_task(http_request& req);
  boost::asio::awaitable<http_response> sync(http_request& req, std::string task_id,
                                             std::string peer);
  http_response leave(http_request& req, const std::string& task_id, const std::string& peer);
  http_response heartbeat(http_request& req, const std::string& host);
  /// The dashboard's page and its JSON (GET /ui/, /api/v1/tasks,
  /// /api/v1/hosts, /api/v1/tasks/{task}/pieces).
  void add_dashboard_routes();
  /// The bytes of the pieces a sync reports fetched, credited to the hosts
  /// and the task.
  void count_moved(task& t, const std::string& peer, const proto::piece_result& res,
                   task::clock::time_point now);
  /// POST /api/v1/replicas: a task's layout and digests from its owner,
  /// taken only when signed with the fleet's identity key.
  http_response receive_replica(http_request& req);
  http_response task_status(const std::string& task_id);
  /// POST /api/v1/jobs (the admin token checked by middleware).
  http_response create_job(http_request& req);
  /// A job as the API shows it: credential header values are not shown.
  proto::job_status shown(proto::job_status j) const;
  http_response serve_pieces(http_request& req, const std::string& task_id);
  /// The scheduler's decisions as the sync answer lists them; without
  /// digests for a peer whose reported digests are checked instead
  /// (check_reported), or that gets them signed with the pieces.
  void book(const task& t, const std::vector<scheduler::decision>& decisions, bool with_digests,
            proto::sync_response& out);
  /// The outcome of a piece a peer that reports digests says it fetched: ok
  /// only when its SHA-256 is the piece's (or it already holds the piece);
  /// otherwise the piece goes on `rejected` and the peer does not hold it.
  scheduler::piece_outcome check_reported(const task& t, const std::string& peer,
                                          const proto::piece_result& res,
                                          std::vector<std::uint64_t>& rejected);
  /// `peer`'s ticket for `t` when it holds one not yet half way to expiry
  /// (else a new one is issued).
  const std::string* held_ticket(task& t, const std::string& peer) const;
  /// A new ticket for `peer`, signed on the signing executor when there is
  /// one (an Ed25519 signature, about 40 µs: once per peer at its first
  /// sync, 10,000 of them within a second at a release), and kept in `t`.
  boost::asio::awaitable<std::string> issue_ticket(std::shared_ptr<task> t, std::string peer);

  const supernode_config& cfg_;
  task_manager& tasks_;
  job_manager& jobs_;
  host_board& board_;
  dashboard dashboard_;
  metrics_registry& metrics_;
  metric_value& upload_bytes_;
  metric_value& registrations_;
  metric_value& assignments_from_peers_;
  metric_value& assignments_from_supernode_;
  metric_value& failures_bad_digest_;
  metric_value& failures_unreachable_;
  metric_value& failures_other_;
  metric_value& bad_requests_;
  metric_value& syncs_asking_;     ///< syncs that ask for assignments
  metric_value& syncs_reporting_;  ///< syncs that only report
  metric_value& held_wakeups_;     ///< held syncs woken to look again
  metric_value& peers_gauge_;
  histogram& sync_seconds_;
  disk_gauges disk_;
  std::shared_ptr<rate_limiter> upload_limiter_;  ///< null when unlimited
  std::optional<ticket_signer> signer_;
  std::vector<boost::asio::any_io_executor> signing_;
  std::size_t signed_ = 0;  ///< tickets signed on signing_, which takes the next
  std::optional<ticket_verifier> verifier_;
  http_router router_;
};

}  // namespace damselfly::supernode
