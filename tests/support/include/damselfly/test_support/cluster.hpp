// SPDX-License-Identifier: Apache-2.0
// Real servers for integration tests: the fault-injecting origin, nginx, the supernode, dfget runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "damselfly/test_support/process.hpp"
#include "damselfly/test_support/test_ca.hpp"

namespace damselfly::test {

/// Paths of the programs under test (set by the build).
std::string supernode_binary();
std::string dfget_binary();
std::string test_origin_binary();
std::string bad_peer_binary();

/// tests/support/test_origin serving `root` on a free loopback port.
class origin_server {
 public:
  origin_server(std::filesystem::path root, std::filesystem::path workdir);
  std::uint16_t port() const noexcept { return port_; }
  const std::filesystem::path& root() const noexcept { return root_; }
  /// "http://127.0.0.1:PORT/<name>[?query]"
  std::string url(const std::string& name, const std::string& query = "") const;
  /// Body bytes sent to clients so far.
  std::uint64_t body_bytes() const;
  std::uint64_t requests() const;

 private:
  std::filesystem::path root_;
  std::unique_ptr<process> proc_;
  std::uint16_t port_ = 0;
};

/// nginx serving `root` on a free loopback port, logging bytes sent per request;
/// given a server identity, also over HTTPS on a second port.
class nginx_server {
 public:
  nginx_server(std::filesystem::path root, std::filesystem::path workdir,
               const server_identity* tls = nullptr);
  ~nginx_server();
  std::uint16_t port() const noexcept { return port_; }
  std::string url(const std::string& name) const;
  /// https://HOST:PORT/name, where HOST is how the client names the server.
  std::string https_url(const std::string& name, const std::string& host = "127.0.0.1") const;
  /// Sum of $body_bytes_sent over the access log, leaving out the readiness probes of "/".
  std::uint64_t body_bytes() const;

 private:
  std::filesystem::path workdir_;
  std::unique_ptr<process> proc_;
  std::uint16_t port_ = 0;
  std::uint16_t tls_port_ = 0;
};

/// A supernode process with its own data dir; restartable on the same dir and port.
class supernode_server {
 public:
  /// `port` 0: a free one chosen by the supernode; else that one (a fleet's
  /// members must know each other's addresses before they start).
  supernode_server(std::filesystem::path data_dir, std::filesystem::path workdir,
                   std::vector<std::string> extra_args = {}, std::uint16_t port = 0);
  std::uint16_t port() const noexcept { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  /// SIGTERM and wait; then start again with the same data dir and port.
  void restart();
  /// SIGTERM; the exit status, or nothing if it had not exited within `timeout`.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void kill();
  /// Sends `sig` (SIGHUP: reload the certificates).
  void signal(int sig);
  std::string metrics() const;
  std::string log() const;
  /// Resident memory of the process in bytes (0 when it is gone).
  std::uint64_t rss() const;
  bool running() const { return proc_->running(); }
  /// SIGKILL, then start again on the same data dir and port.
  void kill_and_restart();

 private:
  void start();
  std::filesystem::path data_dir_;
  std::filesystem::path workdir_;
  std::vector<std::string> extra_;
  std::unique_ptr<process> proc_;
  std::uint16_t port_ = 0;
};

/// A `dfget daemon` on 127.0.0.<host_octet>, with its own data dir and socket.
class daemon_server {
 public:
  daemon_server(int host_octet, const std::string& supernode_addr, std::filesystem::path workdir,
                std::vector<std::string> extra_args = {});
  const std::string& ip() const noexcept { return ip_; }
  std::uint16_t port() const noexcept { return port_; }
  std::filesystem::path socket() const { return dir_ / "dfget.sock"; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::string metrics() const;
  std::string log() const;
  void kill();
  /// SIGTERM; the exit status, or nothing if it has not exited within `timeout`.
  std::optional<int> terminate(std::chrono::milliseconds timeout);
  /// SIGTERM and wait; then start again on the same address, data dir and socket.
  void restart();
  /// Starts a dfget client of this daemon in the background.
  std::unique_ptr<process> start_client(const std::string& url, const std::filesystem::path& out,
                                        const std::vector<std::string>& extra = {}) const;

 private:
  void start();
  std::string ip_;
  std::string supernode_;
  std::vector<std::string> extra_;
  std::filesystem::path dir_;
  std::unique_ptr<process> proc_;
  std::uint16_t port_ = 0;
};

/// Sum of a labeled series over several daemons' metrics.
double sum_metric(const std::vector<std::unique_ptr<daemon_server>>& daemons,
                  const std::string& series);

/// Runs dfget with `args` to completion (bounded by `timeout`).
run_result run_dfget(const std::vector<std::string>& args, const std::filesystem::path& workdir,
                     std::chrono::milliseconds timeout = std::chrono::seconds(120));

}  // namespace damselfly::test
