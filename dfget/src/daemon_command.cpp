// SPDX-License-Identifier: Apache-2.0
// `dfget daemon` and `dfget cache`: checking their flags, running the daemon, asking it.
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>

#include "commands.hpp"
#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/host_identity.hpp"
#include "damselfly/common/logging.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/service_runner.hpp"
#include "damselfly/dfget/daemon_client.hpp"
#include "damselfly/dfget/daemon_launcher.hpp"
#include "damselfly/dfget/exit_codes.hpp"
#include "damselfly/proto/supernode_list.hpp"
#include "summary.hpp"

namespace damselfly::dfget {

namespace {

/// Turns the daemon's flags into its configuration; the message of the first bad one.
std::optional<std::string> finish_config(daemon_flags& f) {
  bool any_https = false;
  for (const auto& s : f.supernodes) {
    bool https = false;
    auto hp = proto::parse_supernode_address(s, https);
    if (!hp) return "bad --supernode '" + s + "': expected HOST:PORT or https://HOST:PORT";
    any_https = any_https || https;
    f.cfg.supernodes.push_back(*hp);
  }
  // One cluster, one mode: TLS to every supernode and peer, or to none.
  if (any_https || !f.cluster.ca_file.empty()) {
    std::string why;
    auto ctx = tls_context::create(f.cluster, &why);
    if (!ctx) return why;
    f.cfg.cluster_tls = *ctx;
  }
  f.cfg.supernodes_listed = f.cfg.supernodes;
  // With TLS a supernode is verified by the name it is listed by: no expansion.
  if (!f.cfg.cluster_tls)
    f.cfg.supernodes = proto::expand_supernodes(f.cfg.supernodes, resolve_addresses);
  if (f.cfg.tls.enabled()) {
    std::string why;
    if (auto ctx = tls_server_context::create(f.cfg.tls, &why); !ctx) return why;
  }
  if (!host_port::parse(f.cfg.listen)) return "bad --listen '" + f.cfg.listen + "'";
  auto up = parse_size(f.upload_rate);
  auto down = parse_size(f.download_rate);
  auto total = parse_size(f.total_limit);
  if (!up || !down || !total) return std::string("rates are sizes per second like 8M, or 0");
  f.cfg.upload_rate = *up;
  f.cfg.download_rate = *down;
  f.cfg.total_download_rate = *total;
  auto quota = parse_size(f.cache_quota);
  auto floor = parse_size(f.min_free);
  if (!quota || !floor) return std::string("--cache-quota and --min-free are sizes like 50G, or 0");
  f.cfg.cache_quota = *quota;
  f.cfg.min_free = *floor;
  f.cfg.cache_ttl = std::chrono::seconds(f.cache_ttl_s);
  f.cfg.idle_exit = std::chrono::seconds(f.idle_exit_s);
  if (!f.token_file.empty()) {
    std::string why;
    auto token = load_token_file(f.token_file, &why);
    if (!token) return why;
    f.cfg.cluster_token = std::move(*token);
  }
  return std::nullopt;
}

/// Runs the daemon until SIGTERM/SIGINT; returns the process exit code.
int serve(const daemon_config& cfg) {
  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  auto d = std::make_unique<daemon>(io.get_executor(), cfg);
  auto port = d->start();
  if (!port) {
    return fail(exit_internal, "cannot start the daemon (listen " + cfg.listen + ", data dir " +
                                   cfg.data_dir.string() + ", socket " + cfg.socket_path.string() +
                                   "): " + port.error().message());
  }
  bool clean = run_until_signalled(io, *d);
  // Something that ignored its cancellation may still refer to the daemon: keep it.
  if (!clean) (void)d.release();
  spdlog::shutdown();
  return exit_ok;
}

void print_cache_list(const std::vector<proto::cache_entry>& tasks) {
  std::printf("%-64s %14s %-8s %-20s %s\n", "TASK", "BYTES", "COMPLETE", "LAST USED", "URL");
  for (const auto& t : tasks) {
    char when[32] = "-";
    std::time_t tt = static_cast<std::time_t>(t.last_used);
    std::tm tm{};
    if (t.last_used > 0 && ::gmtime_r(&tt, &tm))
      std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::printf("%-64s %14llu %-8s %-20s %s\n", t.task_id.c_str(),
                static_cast<unsigned long long>(t.bytes), t.complete ? "yes" : "no", when,
                t.url.c_str());
  }
}

}  // namespace

int run_daemon_command(daemon_flags& f) {
  if (setup_logging("dfget-daemon", f.log_level, f.log_file))
    return fail(exit_usage, "bad --log-level or unwritable --log-file");
  if (auto bad = finish_config(f)) return fail(exit_usage, *bad);
  return serve(f.cfg);
}

int run_cache_command(const cache_flags& f, const std::string& daemon_socket) {
  proto::local_request req;
  req.command = f.action == "list" ? proto::local_command::cache_list
                : f.action == "rm" ? proto::local_command::cache_rm
                                   : proto::local_command::cache_gc;
  req.task = f.task;
  if (f.action == "rm" && f.task.empty()) return fail(exit_usage, "cache rm needs a task id");
  std::string socket = daemon_socket.empty() ? default_daemon_socket().string() : daemon_socket;
  auto verdict = run_via_daemon(socket, req, -1, {}, std::chrono::seconds(30));
  if (!verdict) return fail(exit_supernode, "no dfget daemon answers on " + socket);
  if (verdict->event == proto::local_event_kind::error)
    return fail(verdict->exit_code, verdict->message);
  if (f.action == "list") {
    print_cache_list(verdict->tasks);
  } else {
    std::printf("removed %zu task(s), %s\n", verdict->tasks.size(),
                human_bytes(static_cast<double>(verdict->bytes)).c_str());
  }
  return exit_ok;
}

}  // namespace damselfly::dfget
