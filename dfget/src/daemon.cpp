// SPDX-License-Identifier: Apache-2.0
// Wiring of the dfget daemon: task cache, piece server, local socket, downloads, supernode link.
#include "damselfly/dfget/daemon.hpp"

#include <fcntl.h>

#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <fstream>

#include "damselfly/common/host_identity.hpp"
#include "damselfly/common/task_group.hpp"
#include "download_runner.hpp"
#include "local_api.hpp"
#include "piece_server.hpp"
#include "supernode_link.hpp"
#include "task_cache.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

namespace {

/// A stable id for this host, kept in the data dir so restarts keep it.
std::string load_host_id(const fs::path& data_dir) {
  auto path = data_dir / "host_id";
  std::ifstream in(path);
  std::string id;
  if (in && std::getline(in, id) && !id.empty()) return id;
  id = random_host_token();
  std::ofstream(path) << id << "\n";
  return id;
}

std::string first_ipv4() {
  for (const auto& a : interface_addresses())
    if (a.ipv4 && !a.loopback) return a.ip;
  return "127.0.0.1";
}

}  // namespace

struct daemon::impl {
  impl(asio::any_io_executor e, daemon_config c)
      : ex(e),
        cfg(std::move(c)),
        tasks(e, cfg, metrics),
        pieces(e, cfg, tasks, metrics),
        downloads(e, cfg, tasks, metrics, me),
        group(e, "daemon"),
        local(e, cfg.socket_path, tasks, downloads, group),
        link(e, cfg, tasks, me) {}

  asio::any_io_executor ex;
  daemon_config cfg;
  peer_profile me;  ///< this host as peers and supernodes see it
  metrics_registry metrics;
  task_cache tasks;
  piece_server pieces;
  download_runner downloads;
  task_group group;  ///< local clients, the heartbeat loop, the idle watch
  local_api local;
  supernode_link link;
  bool stopped = false;

  /// Raises SIGTERM once idle for cfg.idle_exit: the normal graceful stop follows.
  asio::awaitable<void> idle_watch();
  /// A preheat job: the file into the cache, as a local client's download
  /// whose output is the cache's own file (nothing else is written).
  asio::awaitable<void> preheat(proto::job_order order);
  bool busy() const {
    return local.clients() > 0 || tasks.downloads() > 0 || pieces.uploads_active() > 0;
  }
  std::string advertised(const host_port& listen, std::uint16_t port) const {
    if (!cfg.advertise.empty()) return cfg.advertise;
    bool wildcard = listen.host == "0.0.0.0" || listen.host == "::";
    return host_port{wildcard ? first_ipv4() : listen.host, port}.to_string();
  }
};

asio::awaitable<void> daemon::impl::preheat(proto::job_order order) {
  proto::job_report report{order.id, proto::job_state::running, 0, {}};
  spdlog::info("job {}: preheating {}", order.id, order.identity.url);
  // The download needs an output on the cache's file system to share the
  // cache's file with; an unnamed one, never linked, costs nothing.
  unique_fd scratch(::open(cfg.data_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!scratch) {
    report.state = proto::job_state::failed;
    report.error = "cannot create a scratch file in " + cfg.data_dir.string();
    link.job_progress(report);
    co_return;
  }
  proto::local_request req;
  req.identity = order.identity;
  req.headers = order.headers;
  req.output = (cfg.data_dir / ("job-" + order.id)).string();  // for messages only
  req.accept_shared = true;
  const local_progress progress = [this, &report](const proto::local_event& e) {
    report.bytes = e.bytes;
    link.job_progress(report);
  };
  auto verdict = co_await downloads.run(req, std::move(scratch), progress, true);
  if (verdict.event.event == proto::local_event_kind::done) {
    report.state = proto::job_state::done;
    report.bytes = verdict.event.bytes;
  } else {
    report.state = proto::job_state::failed;
    report.error = verdict.event.message;
  }
  spdlog::info("job {}: {}", order.id, proto::to_string(report.state));
  link.job_progress(report);
}

daemon::daemon(asio::any_io_executor ex, daemon_config cfg)
    : impl_(std::make_unique<impl>(std::move(ex), std::move(cfg))) {}

daemon::~daemon() {
  stop();
}

std::size_t daemon::connections() const {
  return impl_->pieces.connections() + impl_->local.clients();
}

result<std::uint16_t> daemon::start() {
  auto& d = *impl_;
  if (d.cfg.supernodes.empty()) return errc::invalid_argument;
  auto hp = host_port::parse(d.cfg.listen);
  if (!hp) return errc::invalid_argument;
  if (auto ec = d.tasks.init()) return ec;
  d.me.peer_id = load_host_id(d.cfg.data_dir);
  d.me.idc = d.cfg.idc;
  d.me.location = d.cfg.location;
  d.me.upload_slots = d.cfg.upload_slots;
  if (d.cfg.tls.enabled()) {
    std::string why;
    auto ctx = tls_server_context::create(d.cfg.tls, &why);
    if (!ctx) {
      spdlog::error("{}", why);
      return ctx.error();
    }
    d.pieces.use_tls(*ctx);
  }
  auto port = d.pieces.listen(hp->host, hp->port);
  if (!port) return port;
  d.me.upload_addr = d.advertised(*hp, *port);
  if (auto ec = d.local.open()) return ec;

  d.link.on_job([&d](proto::job_order order) { d.group.spawn(d.preheat(std::move(order))); });
  d.pieces.start();
  d.local.start();
  d.group.spawn(d.link.run());
  if (d.cfg.idle_exit.count() > 0) d.group.spawn(d.idle_watch());
  spdlog::info(
      "daemon {} serving pieces on {}://{} (advertised as {}), local socket {}, {} task(s) on disk",
      d.me.peer_id, d.cfg.tls.enabled() ? "https" : "http", host_port{hp->host, *port}.to_string(),
      d.me.upload_addr, d.cfg.socket_path.string(), d.tasks.size());
  return port;
}

void daemon::reload() {
  auto& d = *impl_;
  if (!d.cfg.tls.enabled()) return;
  std::string why;
  auto ctx = tls_server_context::create(d.cfg.tls, &why);
  if (!ctx) {
    spdlog::error("TLS reload failed, keeping the certificate in use: {}", why);
    return;
  }
  d.pieces.use_tls(*ctx);
  spdlog::info("TLS certificate reloaded from {}", d.cfg.tls.cert_file);
}

void daemon::stop() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  d.pieces.stop();
  d.local.stop();
  d.downloads.cancel_deferred();
  d.tasks.save_all();
}

void daemon::cancel() {
  stop();
  impl_->pieces.close_all();
  impl_->group.cancel();
}

asio::awaitable<void> daemon::impl::idle_watch() {
  asio::steady_timer tick(ex);
  auto last_activity = steady::now();
  for (;;) {
    tick.expires_after(std::chrono::seconds(1));
    co_await tick.async_wait(asio::use_awaitable);
    if (busy()) last_activity = steady::now();
    if (!busy() && steady::now() - last_activity > cfg.idle_exit) {
      spdlog::info("idle for {} s; exiting", cfg.idle_exit.count());
      ::raise(SIGTERM);
      co_return;
    }
  }
}

}  // namespace damselfly::dfget
