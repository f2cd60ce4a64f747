// SPDX-License-Identifier: Apache-2.0
// supernode: the Damselfly origin cache and scheduler service.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/file_io.hpp"
#include "damselfly/common/http_message.hpp"
#include "damselfly/common/logging.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/service_runner.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/tls_flags.hpp"
#include "damselfly/common/yaml_config.hpp"
#include "damselfly/supernode/supernode.hpp"

namespace {

using namespace damselfly;

/// Everything the command line sets, before checking.
/// The library's defaults, and connections on every core but the
/// scheduler's from 4 cores. On 2 or 3, each request's crossing to the
/// scheduling thread and back cost more than the threads gave: the emulated
/// cluster's 10 nodes took 1.107-1.139x T_min with one connection thread,
/// 1.102-1.106x without (docs/benchmarks.md).
supernode::supernode_config with_default_threads() {
  supernode::supernode_config cfg;
  auto cores = std::max(1u, std::thread::hardware_concurrency());
  cfg.connection_threads = cores >= 4 ? std::min(cores - 1, 8u) : 0;
  return cfg;
}

struct cli_options {
  supernode::supernode_config cfg = with_default_threads();
  std::string log_level = "info";
  std::string log_file;
  std::string port_file;
  std::string piece_size = "0";
  unsigned origin_timeout_s = 30;
  unsigned recheck_s = 30;
  std::optional<unsigned> parents;
  std::optional<std::size_t> parents_from;
  unsigned peer_timeout_s = 15;
  std::string upload_rate = "0";
  std::string max_file_size = "1T";
  std::vector<std::string> origin_allow, origin_deny;
  unsigned forget_failed_s = 60;
  std::string cache_quota = "0";
  std::string min_free = "0";
  unsigned cache_ttl_s = 0;
  tls_options tls;
  tls_options fleet_tls;  ///< how this supernode talks to the others of its fleet
  std::string token_file;
  std::string admin_token_file;
  bool insecure_no_auth = false;
};

void add_flags(CLI::App& app, cli_options& o) {
  app.add_option("--listen", o.cfg.listen, "Address and port of the HTTP API and piece server")
      ->capture_default_str();
  app.add_option("--data-dir", o.cfg.data_dir, "Directory of the piece cache")
      ->capture_default_str();
  app.add_option("--piece-size", o.piece_size,
                 "Fixed piece size like 4M; 0 chooses by file size (64 KiB-16 MiB, ~256 pieces)")
      ->capture_default_str();
  app.add_option("--origin-concurrency", o.cfg.origin_concurrency,
                 "Parallel Range requests to the origin per task")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--credential-header", o.cfg.credential_headers,
                 "Header names carrying credentials besides Authorization, Proxy-Authorization "
                 "and Cookie (private tasks)")
      ->delimiter(',');
  app.add_option("--max-origin-fetches", o.cfg.max_origin_fetches,
                 "Tasks fetching from origins at once; more wait their turn")
      ->capture_default_str()
      ->check(CLI::Range(1u, 4096u));
  app.add_option("--max-tasks-per-address", o.cfg.max_tasks_per_address,
                 "Unfinished tasks one client address may start; more get 429")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--max-connections-per-address", o.cfg.max_connections_per_address,
                 "Connections one client address may hold open; more are closed at once")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--connection-threads", o.cfg.connection_threads,
                 "Threads that read requests and write answers and pieces, besides the one "
                 "that schedules (0: that one does it all); default: one per core but one, "
                 "at most 8, from 4 cores (0 below)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 256u));
  app.add_option("--max-file-size", o.max_file_size,
                 "Refuse origins announcing more than this, like 1T (also: the cache's free space)")
      ->capture_default_str();
  app.add_option("--origin-allow", o.origin_allow,
                 "Fetch only origins matching these CIDRs, addresses or host names (after DNS)")
      ->delimiter(',');
  app.add_option("--origin-deny", o.origin_deny,
                 "Never fetch origins matching these CIDRs, addresses or host names (after DNS); "
                 "link-local and metadata addresses and this supernode are denied anyway")
      ->delimiter(',');
  app.add_option("--forget-failed-after", o.forget_failed_s,
                 "Seconds after which a failed task is forgotten")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u));
  app.add_option("--origin-timeout", o.origin_timeout_s,
                 "Seconds an origin connection may stall before the fetch fails")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3600u));
  add_tls_flags(app, o.tls);
  add_tls_server_flags(app, o.cfg.tls);
  // The fleet's supernodes replicate to each other: with TLS they check each
  // other's certificates against the cluster CA, as daemons do.
  add_cluster_tls_flags(app, o.fleet_tls);
  app.add_option("--token-file", o.token_file,
                 "Cluster token: every /api/v1 and /pieces request must carry "
                 "'Authorization: Bearer TOKEN' (the file's first line)");
  app.add_option("--admin-token-file", o.admin_token_file,
                 "Admin token: the jobs API (/api/v1/jobs: preheat) and the dashboard's data "
                 "(/ui/) answer only requests carrying 'Authorization: Bearer TOKEN' (the "
                 "file's first line); without it both are off");
  app.add_option("--max-running-jobs", o.cfg.max_running_jobs,
                 "Preheat jobs running at once; more wait, pending")
      ->capture_default_str();
  app.add_option("--fleet", o.cfg.fleet,
                 "Every supernode of the fleet as clients list them (HOST:PORT, this one "
                 "included; repeat or separate with commas): each task's owner replicates its "
                 "layout and digests to the next supernode of the task's order")
      ->delimiter(',');
  app.add_option("--fleet-self", o.cfg.fleet_self,
                 "How clients name this supernode in --fleet (default: the --listen address)");
  app.add_option("--identity-key-file", o.cfg.identity_key_file,
                 "The supernode's secret (ticket signing, private task ids), created 0600 if "
                 "missing; give every supernode of a fleet the same file (default: "
                 "DATA_DIR/identity.key)");
  app.add_flag("--insecure-no-auth", o.insecure_no_auth,
               "Listen beyond loopback without a cluster token (anyone reaching the port may "
               "register, read pieces and act as any peer)");
  app.add_option("--recheck-interval", o.recheck_s,
                 "Seconds between re-checks of a cached file's ETag/Last-Modified at the origin")
      ->capture_default_str();
  app.add_option("--seed-slots", o.cfg.seed_slots,
                 "Concurrent piece uploads per task served by the supernode itself")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--parents", o.parents,
                 "Parent-set scheduling: give each peer that speaks it this many parents to pick "
                 "its pieces from, and inject only pieces nobody holds; 0 decides every piece "
                 "centrally")
      ->default_str(std::to_string(o.cfg.parents))
      ->check(CLI::Range(0u, 64u));
  app.add_option("--parents-from", o.parents_from,
                 "Registered peers a task needs before its peers get parent sets (default: " +
                     std::to_string(o.cfg.parents_from) + ", or 1 when --parents is given)")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--peer-upload-slots", o.cfg.peer_upload_slots,
                 "Concurrent uploads assumed for a peer that does not say")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--upload-rate", o.upload_rate,
                 "Piece upload rate of the supernode per second, like 100M; 0 is unlimited")
      ->capture_default_str();
  app.add_option("--peer-timeout", o.peer_timeout_s,
                 "Seconds without a sync or heartbeat after which a peer is dropped")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3600u));
  app.add_option(
         "--cache-quota", o.cache_quota,
         "Evict cached files (least recently used first) above this size, like 500G; 0: none")
      ->capture_default_str();
  app.add_option("--min-free", o.min_free,
                 "Evict cached files while the disk has less than this free, like 20G; 0: none")
      ->capture_default_str();
  app.add_option("--cache-ttl", o.cache_ttl_s,
                 "Evict cached files nobody asked for in this many seconds; 0: keep")
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.add_option("--log-file", o.log_file, "Log to this file instead of stderr");
  app.add_option("--port-file", o.port_file,
                 "Write the bound port here once listening (useful with --listen ADDR:0)");
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "supernode: error: %s\n", message.c_str());
  return 2;
}

/// Loads the cluster token; a supernode reachable beyond loopback refuses to
/// run without one unless told --insecure-no-auth.
std::optional<std::string> check_authentication(cli_options& o) {
  if (!o.admin_token_file.empty()) {
    std::string why;
    auto token = load_token_file(o.admin_token_file, &why);
    if (!token) return why;
    o.cfg.admin_token = std::move(*token);
  }
  if (!o.token_file.empty()) {
    std::string why;
    auto token = load_token_file(o.token_file, &why);
    if (!token) return why;
    o.cfg.cluster_token = std::move(*token);
    // Every node holds the cluster token; one of them must not be able to
    // order downloads on all the others.
    if (same_secret(o.cfg.cluster_token, o.cfg.admin_token))
      return "--admin-token-file holds the cluster token; give the admin token a file of its "
             "own";
    return std::nullopt;
  }
  auto hp = host_port::parse(o.cfg.listen);
  if (!hp) return "--listen must be ADDRESS:PORT";
  if (is_loopback_listen_address(hp->host) || o.insecure_no_auth) return std::nullopt;
  return "--listen " + o.cfg.listen +
         " is reachable beyond this host, and without a cluster token anyone there could "
         "register tasks, read every cached piece and act as any peer. Make a token once and "
         "give the same file to the supernode and every daemon:\n"
         "  install -d -m 0755 /etc/damselfly && (umask 077 && openssl rand -hex 32 > "
         "/etc/damselfly/cluster.token)\n"
         "then start with --token-file /etc/damselfly/cluster.token (or, on a network you "
         "trust entirely, --insecure-no-auth)";
}

/// Turns the flags into the supernode's configuration; the message of the first bad one.
std::optional<std::string> finish_config(cli_options& o) {
  auto& cfg = o.cfg;
  auto size = parse_size(o.piece_size);
  if (!size || (*size != 0 && (*size < 16 * 1024 || *size > (1ull << 30))))
    return "--piece-size must be 0 or between 16K and 1G";
  cfg.sizing.fixed_size = *size;
  cfg.origin_timeout = std::chrono::seconds(o.origin_timeout_s);
  std::string tls_why;
  auto tls_ctx = tls_context::create(o.tls, &tls_why);
  if (!tls_ctx) return tls_why;
  cfg.origin_tls = *tls_ctx;
  if (cfg.tls.enabled()) {
    if (auto server_tls = tls_server_context::create(cfg.tls, &tls_why); !server_tls)
      return tls_why;
  }
  if (!o.fleet_tls.ca_file.empty() || (cfg.tls.enabled() && !cfg.fleet.empty())) {
    if (o.fleet_tls.ca_file.empty())
      return "a fleet serving TLS (--tls-cert with --fleet) needs --cluster-ca: the CA its "
             "supernodes' certificates chain to, for the replicas they send each other";
    // Shown to a fleet member that asks for a client certificate: its own.
    if (o.fleet_tls.client_cert.empty() && cfg.tls.enabled()) {
      o.fleet_tls.client_cert = cfg.tls.cert_file;
      o.fleet_tls.client_key = cfg.tls.key_file;
    }
    auto fleet_ctx = tls_context::create(o.fleet_tls, &tls_why);
    if (!fleet_ctx) return tls_why;
    cfg.fleet_tls = *fleet_ctx;
  }
  // An explicit --parents N means parent sets for every task, as it did
  // before the size rule. In a fleet they are off unless asked for: through
  // an owner's failover central scheduling finished 40 emulated nodes at
  // 1.20-1.24x T_min, parent sets at 1.28-1.30x (and before two fixes of
  // that day, 6-11 of the 40 failed; docs/benchmarks.md).
  if (o.parents)
    cfg.parents = *o.parents;
  else if (!cfg.fleet.empty())
    cfg.parents = 0;
  if (o.parents_from)
    cfg.parents_from = *o.parents_from;
  else if (o.parents)
    cfg.parents_from = 1;
  cfg.recheck_interval = std::chrono::seconds(o.recheck_s);
  cfg.peer_timeout = std::chrono::seconds(o.peer_timeout_s);
  auto rate = parse_size(o.upload_rate);
  if (!rate) return "--upload-rate must be a size like 100M or 0";
  cfg.upload_rate = *rate;
  auto max_size = parse_size(o.max_file_size);
  if (!max_size || *max_size == 0) return "--max-file-size must be a size like 1T";
  cfg.max_file_size = *max_size;
  cfg.forget_failed_after = std::chrono::seconds(o.forget_failed_s);
  std::string bad_entry;
  auto policy = address_policy::make(o.origin_allow, o.origin_deny, &bad_entry);
  if (!policy)
    return "bad --origin-allow/--origin-deny entry '" + bad_entry +
           "': expected a CIDR, an address or a host name";
  cfg.origin_policy = std::make_shared<address_policy>(std::move(*policy));
  auto quota = parse_size(o.cache_quota);
  auto floor = parse_size(o.min_free);
  if (!quota || !floor) return "--cache-quota and --min-free are sizes like 500G, or 0";
  cfg.cache_quota = *quota;
  cfg.min_free = *floor;
  cfg.cache_ttl = std::chrono::seconds(o.cache_ttl_s);
  return check_authentication(o);
}

/// Serves until SIGTERM/SIGINT; the process exit code.
int serve(const cli_options& o) {
  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  auto node = std::make_unique<supernode::supernode>(io.get_executor(), o.cfg);
  auto port = node->start();
  if (!port) {
    std::fprintf(stderr, "supernode: error: cannot start on %s with data dir %s: %s\n",
                 o.cfg.listen.c_str(), o.cfg.data_dir.c_str(), port.error().message().c_str());
    return 1;
  }
  if (!o.port_file.empty() && replace_file(o.port_file, std::to_string(*port) + "\n")) {
    std::fprintf(stderr, "supernode: error: cannot write --port-file %s\n", o.port_file.c_str());
    return 1;
  }
  bool clean = run_until_signalled(io, *node);
  // Something that ignored its cancellation may still refer to the node: keep it.
  if (!clean) (void)node.release();
  spdlog::shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli_options o;
  CLI::App app{
      "Damselfly supernode: fetches each source once, caches it in pieces and schedules peers"};
  app.name("supernode");
  app.set_version_flag("--version", "supernode " DAMSELFLY_VERSION);
  add_flags(app, o);
  add_yaml_config_option(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (auto bad = finish_config(o)) return usage_error(*bad);
  if (setup_logging("supernode", o.log_level, o.log_file))
    return usage_error("bad --log-level or unwritable --log-file");
  return serve(o);
}
