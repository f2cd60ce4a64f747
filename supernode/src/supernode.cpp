// SPDX-License-Identifier: Apache-2.0
// Wiring of the supernode: tasks, API, HTTP server and housekeeping timer.
#include "damselfly/supernode/supernode.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api.hpp"
#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/host_identity.hpp"
#include "damselfly/common/http_server.hpp"
#include "damselfly/common/io_context_pool.hpp"
#include "damselfly/common/secret_file.hpp"
#include "damselfly/common/task_group.hpp"
#include "damselfly/common/ticket_signer.hpp"
#include "damselfly/common/tls_server_context.hpp"
#include "replicator.hpp"
#include "task_manager.hpp"

namespace damselfly::supernode {

namespace asio = boost::asio;

namespace {

/// The addresses a listener on `host` answers on: a wildcard answers on
/// loopback and every interface.
std::vector<std::string> own_addresses(const std::string& host) {
  if (host != "0.0.0.0" && host != "::") return {host};
  std::vector<std::string> out{"127.0.0.0/8", "::1"};
  for (const auto& a : interface_addresses()) out.push_back(a.ip);
  return out;
}

http_server_options server_options(const supernode_config& cfg, asio::any_io_executor state,
                                   const io_context_pool* pool) {
  http_server_options o;
  o.max_connections_per_address = cfg.max_connections_per_address;
  if (pool) {
    o.handler_executor = std::move(state);
    o.connection_executors = pool->executors();
  }
  o.prepare = &api::prepare;
  return o;
}

/// Threads for the connections, when they do not share the state's thread:
/// a context each, so that a connection stays on the thread it began on.
std::unique_ptr<io_context_pool> connection_pool(const supernode_config& cfg) {
  if (cfg.connection_threads == 0) return nullptr;
  return std::make_unique<io_context_pool>(cfg.connection_threads);
}

}  // namespace

struct supernode::impl {
  impl(asio::any_io_executor e, supernode_config c)
      : ex(e),
        cfg(std::move(c)),
        pool(connection_pool(cfg)),
        tasks(e, cfg, metrics),
        jobs(cfg, tasks, board),
        routes(cfg, tasks, jobs, board, metrics),
        replicas(e, cfg, tasks, metrics),
        server(
            pool ? pool->executors().front() : e,
            [this](http_request& r) { return routes.handle(r); },
            server_options(cfg, e, pool.get())),
        group(e, "supernode"),
        replication(e, "replication") {
    tasks.set_owner_probe([this](std::string id) { return replicas.owner_answers(std::move(id)); });
  }

  asio::any_io_executor ex;
  supernode_config cfg;
  /// Where connections run (null: on `ex`). Stopped before what its
  /// sessions' handlers use goes away.
  std::unique_ptr<io_context_pool> pool;
  metrics_registry metrics;
  task_manager tasks;
  host_board board;  ///< the daemons heard from
  job_manager jobs;
  api routes;
  replicator replicas;
  http_server server;
  task_group group;        ///< the housekeeping loop
  task_group replication;  ///< the replicator: ends after its last round on stop
  bool stopped = false;

  asio::awaitable<void> housekeeping_loop() {
    asio::steady_timer tick(ex);
    for (;;) {
      tick.expires_after(std::chrono::seconds(5));
      co_await tick.async_wait(asio::use_awaitable);  // cancellation ends the loop
      tasks.tick();
      jobs.tick();
      // Hosts long gone are forgotten (a heartbeat brings one back).
      board.forget_before(std::chrono::steady_clock::now() - 20 * cfg.peer_timeout);
    }
  }
};

supernode::supernode(asio::any_io_executor ex, supernode_config cfg)
    : impl_(std::make_unique<impl>(std::move(ex), std::move(cfg))) {}

supernode::~supernode() {
  stop();
  // A session still open here (the executor no longer runs, so its handler
  // never would) is dropped where it stands.
  if (impl_->pool) {
    impl_->pool->stop();
    impl_->pool->join();
  }
}

result<std::uint16_t> supernode::start() {
  auto hp = host_port::parse(impl_->cfg.listen);
  if (!hp) return errc::invalid_argument;
  if (auto ec = impl_->tasks.init()) return ec;
  if (auto ec = impl_->jobs.init()) return ec;
  std::string why;
  auto key_file = impl_->cfg.identity_key_file.empty() ? impl_->cfg.data_dir / "identity.key"
                                                       : impl_->cfg.identity_key_file;
  auto secret = load_or_create_secret(key_file, &why);
  if (!secret) {
    spdlog::error("{}", why);
    return secret.error();
  }
  impl_->cfg.identity_secret = std::move(*secret);
  impl_->routes.use_ticket_key(ticket_signer(impl_->cfg.identity_secret));
  if (impl_->pool) impl_->routes.sign_on(impl_->pool->executors());
  // The jobs API answers to the admin token instead of the cluster token:
  // a node's token must not order fleet-wide downloads.
  if (!impl_->cfg.cluster_token.empty())
    impl_->routes.routes().use(require_bearer_token(
        impl_->cfg.cluster_token, {"health", "metrics", "jobs", "ui", "dashboard"}));
  impl_->routes.routes().use(require_bearer_token_on(
      impl_->cfg.admin_token, {"jobs", "dashboard"},
      "jobs and the dashboard need the admin token (--admin-token-file): Authorization: Bearer "
      "TOKEN"));
  if (impl_->cfg.tls.enabled()) {
    auto ctx = tls_server_context::create(impl_->cfg.tls, &why);
    if (!ctx) {
      spdlog::error("{}", why);
      return ctx.error();
    }
    impl_->server.use_tls(*ctx);
  }
  auto port = impl_->server.listen(hp->host, hp->port);
  if (!port) return port;
  auto& policy = impl_->cfg.origin_policy;
  if (!policy) policy = std::make_shared<address_policy>(*address_policy::make({}, {}, nullptr));
  policy->deny_self(own_addresses(hp->host), *port);
  if (!impl_->cfg.fleet.empty()) {
    auto self = impl_->cfg.fleet_self;
    if (self.empty()) self = hp->host + ":" + std::to_string(*port);
    if (!impl_->replicas.set_self(self)) {
      spdlog::error("this supernode ({}) is not in --fleet; give --fleet-self as clients name it",
                    self);
      impl_->server.stop();
      return errc::invalid_argument;
    }
    spdlog::info("fleet of {} supernodes; this one is {}", impl_->cfg.fleet.size(), self);
    impl_->replication.spawn(impl_->replicas.run());
  }
  impl_->server.start();
  impl_->group.spawn(impl_->housekeeping_loop());
  spdlog::info("supernode listening on {}://{}:{}, cache in {}",
               impl_->cfg.tls.enabled() ? "https" : "http", hp->host, *port,
               impl_->cfg.data_dir.string());
  return port;
}

void supernode::reload() {
  if (!impl_->cfg.tls.enabled()) return;
  std::string why;
  auto ctx = tls_server_context::create(impl_->cfg.tls, &why);
  if (!ctx) {
    spdlog::error("TLS reload failed, keeping the certificate in use: {}", why);
    return;
  }
  impl_->server.use_tls(*ctx);
  spdlog::info("TLS certificate reloaded from {}", impl_->cfg.tls.cert_file);
}

std::size_t supernode::connections() const {
  // The replicator's last round counts as work in progress: a stopping
  // supernode hands its newest digests over before it goes.
  return impl_->server.connections() + (impl_->replicas.running() ? 1 : 0);
}

void supernode::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->group.cancel();
  impl_->replicas.finish();
  impl_->tasks.drain();
  impl_->server.stop();
}

void supernode::cancel() {
  stop();
  impl_->replication.cancel();
  impl_->server.close_all();
  impl_->tasks.cancel();
}

}  // namespace damselfly::supernode
