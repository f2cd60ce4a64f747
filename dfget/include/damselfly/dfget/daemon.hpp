// SPDX-License-Identifier: Apache-2.0
// The dfget daemon: downloads for local clients, keeps pieces, serves them to other peers.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "damselfly/common/error.hpp"
#include "damselfly/common/http_message.hpp"
#include "damselfly/common/service.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/tls_server_context.hpp"

namespace damselfly::dfget {

struct daemon_config {
  std::string listen = "0.0.0.0:65002";  ///< piece server and /metrics
  /// "host:port" other peers reach this daemon at; empty: the listen address,
  /// or this host's first non-loopback IPv4 address when listening on all.
  std::string advertise;
  std::filesystem::path data_dir = "/var/lib/damselfly/dfget";
  std::filesystem::path socket_path = "/run/damselfly/dfget.sock";
  /// The supernodes to use: a name with several addresses counts as that
  /// many (resolved at start, plain HTTP clusters only; see supernode_list).
  std::vector<host_port> supernodes;
  /// The supernodes as given (what a client's --supernode is compared with).
  std::vector<host_port> supernodes_listed;
  std::uint64_t upload_rate = 0;          ///< bytes/s over all uploads; 0: unlimited
  std::uint64_t download_rate = 0;        ///< bytes/s per download; 0: unlimited
  std::uint64_t total_download_rate = 0;  ///< bytes/s over all downloads; 0: unlimited
  std::string idc;
  std::string location;
  /// Header names carrying credentials besides Authorization,
  /// Proxy-Authorization and Cookie; the supernodes' list should be the same.
  /// Downloads with credentials are private: written to the client's output
  /// only, never kept in the cache nor served to peers.
  std::vector<std::string> credential_headers;
  /// The cluster token: demanded on /pieces, sent to supernodes and peers.
  std::string cluster_token;
  /// The piece server serves HTTPS with these files (re-read on SIGHUP); empty: HTTP.
  tls_server_files tls;
  /// TLS to supernodes and peers: whom to trust, which client certificate
  /// to show. Null: plain HTTP.
  std::shared_ptr<const tls_context> cluster_tls;
  unsigned upload_slots = 6;  ///< concurrent uploads; more get 503 (docs/benchmarks.md: 6 vs 8)
  /// Of those, how many may go to children of the parent-set protocol. A
  /// piece crosses a hop in 1/S of its link's time shared S ways, and a new
  /// piece reaches the whole swarm hop by hop; no supernode counts these
  /// uploads. Centrally scheduled peers keep upload_slots: the supernode
  /// assigns them by it, and fewer lost them 5-8% (docs/benchmarks.md).
  unsigned child_upload_slots = 3;
  unsigned parallel = 8;  ///< pieces in flight per download
  std::chrono::milliseconds heartbeat_interval{3'000};
  /// Finished tasks are evicted, least recently used first, while the data dir
  /// holds more than this many bytes (0: no quota) ...
  std::uint64_t cache_quota = 0;
  /// ... or its filesystem has less than this free (0: no watermark) ...
  std::uint64_t min_free = 0;
  /// ... or they have not been used for this long (0: kept until space is needed).
  std::chrono::seconds cache_ttl{0};
  /// Exit (as on SIGTERM) after this long with no local client, download or
  /// upload; zero: run until stopped. Daemons that dfget starts on demand use it.
  std::chrono::seconds idle_exit{0};
};

/// Runs on a single-threaded executor (download engines add their own
/// hashing threads). Tasks stay on disk and are served after the client that
/// asked for them has gone, and after a restart.
class daemon final : public service {
 public:
  daemon(boost::asio::any_io_executor ex, daemon_config cfg);
  ~daemon() override;
  daemon(const daemon&) = delete;
  daemon& operator=(const daemon&) = delete;

  /// Opens the data dir, the piece server and the local socket; returns the piece server's port.
  result<std::uint16_t> start() override;
  /// Stops accepting (peers and local clients) and heartbeating; work in
  /// progress goes on. Saves every task's bitmap.
  void stop() override;
  /// After stop(): cancels what still runs (downloads, uploads); every
  /// coroutine of the daemon then unwinds and the executor runs out of work.
  void cancel() override;
  /// Open connections (piece server and local clients), for a graceful stop.
  std::size_t connections() const override;
  /// Loads the piece server's TLS certificate and key again; new connections use them.
  void reload() override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace damselfly::dfget
