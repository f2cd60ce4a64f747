// SPDX-License-Identifier: Apache-2.0
// dfget daemon: local socket API, download engine host, piece server, heartbeats.
#include "damselfly/dfget/daemon.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "damselfly/common/host_identity.hpp"
#include "damselfly/common/http_client.hpp"
#include "damselfly/common/http_range.hpp"
#include "damselfly/common/http_server.hpp"
#include "damselfly/common/metrics.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/task_id.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/url.hpp"
#include "damselfly/dfget/downloader.hpp"
#include "damselfly/dfget/exit_codes.hpp"
#include "damselfly/dfget_storage/output_file.hpp"
#include "damselfly/dfget_storage/task_store.hpp"
#include "damselfly/proto/messages.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using local = asio::local::stream_protocol;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

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
  ifaddrs* list = nullptr;
  std::string out = "127.0.0.1";
  if (::getifaddrs(&list) != 0) return out;
  for (auto* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || (a->ifa_flags & IFF_LOOPBACK))
      continue;
    char buf[INET_ADDRSTRLEN];
    auto* sin = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) {
      out = buf;
      break;
    }
  }
  ::freeifaddrs(list);
  return out;
}

std::string error_name(const error_code& ec) {
  if (ec.category() == damselfly_category()) {
    switch (static_cast<errc>(ec.value())) {
      case errc::digest_mismatch:
        return "digest_mismatch";
      case errc::origin_http_error:
        return "origin_http_error";
      case errc::origin_unreachable:
        return "origin_unreachable";
      case errc::supernode_unreachable:
        return "supernode_unreachable";
      case errc::source_changed:
        return "source_changed";
      case errc::too_many_failures:
        return "too_many_failures";
      case errc::io_error:
        return "io_error";
      case errc::timeout:
        return "timeout";
      case errc::invalid_argument:
        return "invalid_argument";
      default:
        break;
    }
  }
  return "failed";
}

}  // namespace

struct daemon::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor e, daemon_config c)
      : ex(e),
        cfg(std::move(c)),
        store(cfg.data_dir),
        pieces(e, [this](http_request& r) { return handle(r); }),
        local_acceptor(e),
        heartbeat_timer(e),
        from_peer(metrics.counter("damselfly_daemon_download_bytes_total",
                                  "Piece bytes downloaded, by source", R"(from="peer")")),
        from_supernode(metrics.counter("damselfly_daemon_download_bytes_total",
                                       "Piece bytes downloaded, by source", R"(from="supernode")")),
        from_origin(metrics.counter("damselfly_daemon_download_bytes_total",
                                    "Piece bytes downloaded, by source", R"(from="origin")")),
        uploaded(
            metrics.counter("damselfly_daemon_upload_bytes_total", "Piece bytes served to peers")),
        failed_bad_digest(metrics.counter("damselfly_daemon_piece_failures_total",
                                          "Failed piece downloads, by reason",
                                          R"(reason="bad_digest")")),
        failed_unreachable(metrics.counter("damselfly_daemon_piece_failures_total",
                                           "Failed piece downloads, by reason",
                                           R"(reason="unreachable")")),
        failed_other(metrics.counter("damselfly_daemon_piece_failures_total",
                                     "Failed piece downloads, by reason", R"(reason="error")")),
        evictions(metrics.counter("damselfly_daemon_cache_evictions_total",
                                  "Finished tasks removed from the data dir")),
        uploads_refused(
            metrics.counter("damselfly_daemon_uploads_refused_total",
                            "Piece requests refused because every upload slot was busy")),
        downloads_ok(metrics.counter("damselfly_daemon_downloads_total",
                                     "Downloads finished, by result", R"(result="ok")")),
        downloads_failed(metrics.counter("damselfly_daemon_downloads_total",
                                         "Downloads finished, by result", R"(result="failed")")),
        tasks_gauge(metrics.gauge("damselfly_daemon_tasks", "Tasks held on disk")) {
    if (cfg.upload_rate > 0)
      upload_limiter = std::make_shared<rate_limiter>(cfg.upload_rate, 256 * 1024, steady::now());
    if (cfg.total_download_rate > 0)
      total_limiter =
          std::make_shared<rate_limiter>(cfg.total_download_rate, 1 << 20, steady::now());
  }

  asio::any_io_executor ex;
  daemon_config cfg;
  std::string host_id;
  std::string advertise;
  task_store store;
  metrics_registry metrics;
  http_server pieces;
  local::acceptor local_acceptor;
  asio::steady_timer heartbeat_timer;
  std::unique_ptr<http_client> supernode_client;
  std::size_t supernode_index = 0;
  std::map<std::string, std::shared_ptr<task_file>> tasks;
  std::set<std::string> downloading;
  std::map<std::string, unsigned> uploads_by_task;  ///< uploads in progress, per task
  std::shared_ptr<rate_limiter> upload_limiter;
  std::shared_ptr<rate_limiter> total_limiter;  ///< all downloads together
  unsigned uploads_active = 0;
  std::size_t local_clients = 0;
  bool stopped = false;
  steady::time_point last_activity = steady::now();
  asio::steady_timer idle_timer{ex};
  /// Raises SIGTERM once idle for cfg.idle_exit: the normal graceful stop follows.
  asio::awaitable<void> idle_watch();

  metric_value& from_peer;
  metric_value& from_supernode;
  metric_value& from_origin;
  metric_value& uploaded;
  metric_value& failed_bad_digest;
  metric_value& failed_unreachable;
  metric_value& failed_other;
  metric_value& evictions;
  metric_value& uploads_refused;
  metric_value& downloads_ok;
  metric_value& downloads_failed;
  metric_value& tasks_gauge;

  asio::awaitable<http_response> handle(http_request& req);
  http_response serve_pieces(http_request& req, const std::string& task_id);
  asio::awaitable<void> accept_local();
  asio::awaitable<void> serve_local(local::socket sock);
  asio::awaitable<proto::local_event> download(
      const proto::local_request& req,
      const std::function<void(const proto::local_event&)>& progress);
  asio::awaitable<void> heartbeat_loop();
  /// Evicts finished, idle tasks by TTL, quota and free-space watermark (LRU
  /// first); with `only`, removes just that task if it is idle. Returns what went.
  std::vector<proto::cache_entry> collect_garbage(const std::string& only = "");
  std::vector<proto::cache_entry> cache_entries();
  proto::local_event cache_command(const proto::local_request& req);
  asio::awaitable<void> announce(const std::shared_ptr<task_file>& tf);
};

daemon::daemon(asio::any_io_executor ex, daemon_config cfg)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(cfg))) {}

daemon::~daemon() {
  stop();
}

std::size_t daemon::connections() const {
  return impl_->pieces.connections() + impl_->local_clients;
}

result<std::uint16_t> daemon::start() {
  auto& d = *impl_;
  if (d.cfg.supernodes.empty()) return errc::invalid_argument;
  auto hp = host_port::parse(d.cfg.listen);
  if (!hp) return errc::invalid_argument;
  if (auto ec = d.store.init()) return ec;
  d.host_id = load_host_id(d.cfg.data_dir);
  for (const auto& id : d.store.list()) {
    auto tf = d.store.open(id);
    if (tf) d.tasks[id] = *tf;
  }
  d.tasks_gauge.set(d.tasks.size());
  auto port = d.pieces.listen(hp->host, hp->port);
  if (!port) return port;
  if (!d.cfg.advertise.empty()) {
    d.advertise = d.cfg.advertise;
  } else {
    bool wildcard = hp->host == "0.0.0.0" || hp->host == "::";
    d.advertise = host_port{wildcard ? first_ipv4() : hp->host, *port}.to_string();
  }

  // The local socket: refuse to take over one a live daemon answers on.
  std::error_code fec;
  fs::create_directories(d.cfg.socket_path.parent_path(), fec);
  {
    local::socket probe(d.ex);
    error_code ec;
    probe.connect(local::endpoint(d.cfg.socket_path.string()), ec);
    if (!ec) return error_code(EADDRINUSE, boost::system::system_category());
  }
  fs::remove(d.cfg.socket_path, fec);
  error_code ec;
  d.local_acceptor.open(local::endpoint(d.cfg.socket_path.string()).protocol(), ec);
  if (!ec) d.local_acceptor.bind(local::endpoint(d.cfg.socket_path.string()), ec);
  if (!ec) d.local_acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;

  d.pieces.start();
  asio::co_spawn(d.ex, d.accept_local(), asio::detached);
  asio::co_spawn(d.ex, d.heartbeat_loop(), asio::detached);
  if (d.cfg.idle_exit.count() > 0) asio::co_spawn(d.ex, d.idle_watch(), asio::detached);
  spdlog::info(
      "daemon {} serving pieces on {} (advertised as {}), local socket {}, {} task(s) on disk",
      d.host_id, host_port{hp->host, *port}.to_string(), d.advertise, d.cfg.socket_path.string(),
      d.tasks.size());
  return port;
}

void daemon::stop() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  d.pieces.stop();
  error_code ignored;
  d.local_acceptor.close(ignored);
  d.heartbeat_timer.cancel();
  d.idle_timer.cancel();
  for (const auto& [id, tf] : d.tasks) tf->save_meta();
}

asio::awaitable<http_response> daemon::impl::handle(http_request& req) {
  auto path = std::string(req.path());
  if (path == "/healthz") co_return http_response::text(200, "ok\n");
  if (path == "/metrics") {
    auto r = http_response::text(200, metrics.render());
    r.headers.set("Content-Type", "text/plain; version=0.0.4");
    co_return r;
  }
  constexpr std::string_view prefix = "/pieces/";
  if (path.rfind(prefix, 0) == 0 && (req.method == "GET" || req.method == "HEAD"))
    co_return serve_pieces(req, path.substr(prefix.size()));
  co_return http_response::json(404,
                                R"({"error":{"code":"not_found","message":"no such endpoint"}})");
}

http_response daemon::impl::serve_pieces(http_request& req, const std::string& task_id) {
  auto it = tasks.find(task_id);
  auto header = req.headers.get("Range");
  if (it == tasks.end() || !header)
    return http_response::json(404,
                               R"({"error":{"code":"not_found","message":"no such task here"}})");
  auto& tf = it->second;
  auto meta = tf->meta();
  if (meta.piece_size == 0 || meta.content_length < 0)
    return http_response::json(404,
                               R"({"error":{"code":"not_ready","message":"nothing held yet"}})");
  auto length = static_cast<std::uint64_t>(meta.content_length);
  auto range = parse_range_header(*header, length);
  if (!range) {
    return http_response::json(range.error() == errc::range_not_satisfiable ? 416 : 400,
                               R"({"error":{"code":"bad_range","message":"bad Range"}})");
  }
  if (!tf->holds_range(range->offset, range->length))
    return http_response::json(
        404, R"({"error":{"code":"not_ready","message":"range not held whole"}})");
  if (uploads_active >= cfg.upload_slots) {
    uploads_refused.add();
    return http_response::json(503,
                               R"({"error":{"code":"busy","message":"all upload slots busy"}})");
  }
  ++uploads_active;
  last_activity = steady::now();
  ++uploads_by_task[task_id];
  tf->update([](task_meta& m) { m.last_used = std::time(nullptr); });
  http_response resp;
  resp.status = 206;
  resp.headers.set("Content-Type", "application/octet-stream");
  resp.headers.set("Content-Range", format_content_range(*range, length));
  auto self = shared_from_this();
  resp.file = file_slice{tf->fd(),
                         range->offset,
                         range->length,
                         [self, task_id](std::uint64_t n) {
                           self->uploaded.add(n);
                           --self->uploads_active;
                           --self->uploads_by_task[task_id];
                         },
                         {}};
  if (req.method == "HEAD") {
    --uploads_active;
    --uploads_by_task[task_id];
    resp.file->on_sent = {};
  }
  if (upload_limiter) {
    resp.file->pace = make_pacer(upload_limiter);
  }
  return resp;
}

asio::awaitable<void> daemon::impl::accept_local() {
  auto self = shared_from_this();
  while (!stopped) {
    auto [ec, sock] = co_await local_acceptor.async_accept(nothrow);
    if (ec) {
      if (stopped || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(ex, serve_local(std::move(sock)), asio::detached);
  }
}

namespace {

/// One local client: its socket and the progress waiting to be written to it.
struct local_client {
  explicit local_client(local::socket s)
      : sock(std::move(s)), timer(sock.get_executor()), deadline(sock.get_executor()) {}
  local::socket sock;
  asio::steady_timer timer;     ///< paces progress
  asio::steady_timer deadline;  ///< bounds the wait for the request line
  bool request_read = false;
  std::optional<proto::local_event> latest;
  bool done = false;
  bool pump_finished = false;
  bool broken = false;
};

asio::awaitable<bool> send_event(local_client& c, const proto::local_event& e) {
  std::string text = proto::encode(e) + "\n";
  auto [ec, n] = co_await asio::async_write(c.sock, asio::buffer(text), nothrow);
  if (ec) {
    spdlog::debug("local client: write failed: {}", ec.message());
    c.broken = true;
  }
  co_return !ec;
}

/// Writes the newest progress every 200 ms, so the download never waits on the client.
asio::awaitable<void> pump_progress(std::shared_ptr<local_client> c) {
  while (!c->done && !c->broken) {
    c->timer.expires_after(std::chrono::milliseconds(200));
    co_await c->timer.async_wait(nothrow);
    if (c->latest && !c->done) {
      auto e = *c->latest;
      c->latest.reset();
      co_await send_event(*c, e);
    }
  }
  c->pump_finished = true;
}

}  // namespace

asio::awaitable<void> daemon::impl::serve_local(local::socket sock) {
  auto self = shared_from_this();
  auto c = std::make_shared<local_client>(std::move(sock));
  ++local_clients;
  last_activity = steady::now();
  // The request line must arrive promptly; after that the client waits as
  // long as the download takes.
  c->deadline.expires_after(std::chrono::seconds(30));
  c->deadline.async_wait([c](const error_code& ec) {
    if (!ec && !c->request_read) {
      error_code ignored;
      c->sock.close(ignored);
    }
  });
  std::string line;
  auto [rec, n] =
      co_await asio::async_read_until(c->sock, asio::dynamic_buffer(line, 1 << 20), '\n', nothrow);
  c->request_read = true;
  c->deadline.cancel();
  if (!rec) {
    auto msg = proto::decode<proto::local_request>(std::string_view(line).substr(0, n));
    proto::local_event result;
    if (!msg) {
      result.event = "error";
      result.code = "bad_request";
      result.exit_code = exit_usage;
      result.message = "bad request from the client: " + msg.error.message;
    } else if (msg.value->command != "download") {
      result = cache_command(*msg.value);
    } else {
      asio::co_spawn(ex, pump_progress(c), asio::detached);
      // Named, not a temporary in the co_await: GCC 12 may destroy such temporaries twice.
      const std::function<void(const proto::local_event&)> relay =
          [c](const proto::local_event& e) { c->latest = e; };
      result = co_await download(*msg.value, relay);
      c->done = true;
      c->timer.cancel();
      // One writer at a time on the socket: let the pump finish first.
      asio::steady_timer settle(ex);
      for (int i = 0; i < 500 && !c->pump_finished; ++i) {
        settle.expires_after(std::chrono::milliseconds(10));
        co_await settle.async_wait(nothrow);
      }
    }
    if (!c->broken) co_await send_event(*c, result);
  }
  error_code ignored;
  c->sock.shutdown(local::socket::shutdown_both, ignored);
  c->sock.close(ignored);
  --local_clients;
  last_activity = steady::now();
}

asio::awaitable<proto::local_event> daemon::impl::download(
    const proto::local_request& req,
    const std::function<void(const proto::local_event&)>& progress) {
  proto::local_event result;
  result.event = "error";
  auto fail = [&](error_code ec, std::string message) {
    result.code = error_name(ec);
    result.exit_code = exit_code_for(ec);
    result.message = std::move(message);
    downloads_failed.add();
    return result;
  };
  if (!http_url::parse(req.url))
    co_return fail(errc::invalid_argument, "not an absolute http(s) URL: " + req.url);
  if (req.output.empty() || fs::path(req.output).is_relative())
    co_return fail(errc::invalid_argument, "the output path must be absolute");
  task_key key{req.url, req.filters, req.tag, req.digest, req.identifier, ""};
  auto id = make_task_id(key);
  if (!id) co_return fail(errc::invalid_argument, "URL cannot be normalized: " + req.url);
  std::optional<digest_spec> digest;
  if (!req.digest.empty()) {
    auto spec = digest_spec::parse(req.digest);
    if (!spec) co_return fail(errc::invalid_argument, "bad digest '" + req.digest + "'");
    digest = *spec;
  }
  std::shared_ptr<const tls_context> origin_tls;  // null: the system store, verified
  if (!req.ca_cert.empty() || req.insecure) {
    std::string why;
    auto ctx = tls_context::create(tls_options{req.ca_cert, req.insecure}, &why);
    if (!ctx) co_return fail(errc::invalid_argument, why);
    origin_tls = *ctx;
  }
  // One download per task at a time; later clients wait for it, then publish.
  asio::steady_timer wait(ex);
  while (downloading.contains(*id)) {
    wait.expires_after(std::chrono::milliseconds(100));
    co_await wait.async_wait(nothrow);
  }
  downloading.insert(*id);
  struct release {
    std::set<std::string>& set;
    std::string id;
    ~release() { set.erase(id); }
  } guard{downloading, *id};

  download_outcome outcome;
  std::shared_ptr<task_file> tf;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto opened = store.open(*id);
    if (!opened)
      co_return fail(errc::io_error, "cannot open the task's files: " + opened.error().message());
    tf = *opened;
    tf->update([&](task_meta& m) {
      m.url = req.url;
      m.filters = req.filters;
      m.tag = req.tag;
      m.digest = req.digest;
      m.identifier = req.identifier;
    });
    tasks[*id] = tf;
    tasks_gauge.set(tasks.size());

    downloader_options opts;
    opts.supernodes = cfg.supernodes;
    opts.parallel = cfg.parallel;
    opts.peer_id = host_id;
    opts.upload_addr = advertise;
    opts.idc = cfg.idc;
    opts.location = cfg.location;
    opts.upload_slots = cfg.upload_slots;
    // A client's own cap can only lower the daemon's.
    opts.download_rate = cfg.download_rate == 0 || req.limit_rate == 0
                             ? std::max(cfg.download_rate, req.limit_rate)
                             : std::min(cfg.download_rate, req.limit_rate);
    opts.total_limit = total_limiter;
    opts.leave_when_done = false;  // stay a source for this task
    opts.back_to_source = !req.no_back_source;
    opts.counters = {&from_supernode,    &from_peer,          &from_origin,
                     &failed_bad_digest, &failed_unreachable, &failed_other};
    downloader engine(ex, opts);
    download_request dreq;
    dreq.url = req.url;
    dreq.filters = req.filters;
    dreq.tag = req.tag;
    dreq.identifier = req.identifier;
    dreq.digest = digest;
    dreq.headers = req.headers;
    auto meta = tf->meta();
    dreq.have = meta.have;
    dreq.version = meta.version;
    dreq.piece_size = meta.piece_size;
    dreq.origin_tls = origin_tls;
    auto last_save = steady::now();
    // Named, not temporaries in the co_await: GCC 12 may destroy those twice.
    const std::function<void(const download_progress&)> on_progress =
        [&](const download_progress& p) {
          bool new_layout = false;
          tf->update([&](task_meta& m) {
            if (m.piece_size != p.piece_size || m.version != p.version) {
              m.piece_size = p.piece_size;
              m.version = p.version;
              new_layout = true;
            }
            m.content_length = p.total_bytes;
          });
          // The layout is saved at once: the piece journal means nothing without it.
          if (new_layout || steady::now() - last_save > std::chrono::seconds(1)) {
            tf->save_meta();  // a killed daemon resumes from here
            last_save = steady::now();
          }
          proto::local_event e;
          e.event = "progress";
          e.bytes = p.bytes_done;
          e.total = p.total_bytes;
          progress(e);
        };
    const std::function<void(std::uint64_t)> on_piece = [&](std::uint64_t piece) {
      tf->mark(piece);
    };
    outcome = co_await engine.run(dreq, *tf, on_progress, on_piece);
    bool resumed = meta.have.end() != std::find(meta.have.begin(), meta.have.end(), true);
    if (outcome.ec == errc::source_changed && resumed && attempt == 0) {
      spdlog::info("task {}: the source changed since the pieces on disk; starting over",
                   id->substr(0, 12));
      tasks.erase(*id);
      store.remove(*id);
      continue;
    }
    break;
  }
  if (outcome.ec) {
    tf->save_meta();
    co_return fail(outcome.ec, outcome.message);
  }
  tf->update([&](task_meta& m) {
    m.content_length = outcome.summary.content_length;
    m.piece_size = outcome.summary.piece_size;
    m.version = outcome.summary.version;
    m.complete = true;
    m.last_used = std::time(nullptr);
  });
  if (auto ec = tf->save_meta())
    spdlog::warn("task {}: cannot save metadata: {}", id->substr(0, 12), ec.message());

  auto length =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, outcome.summary.content_length));
  auto out = output_file::create(req.output);
  if (!out)
    co_return fail(errc::io_error, "cannot create " + req.output + ": " + out.error().message());
  if (auto ec = (*out)->copy_from(tf->fd()->get(), length))
    co_return fail(errc::io_error, "cannot write " + req.output + ": " + ec.message());
  if (auto ec = (*out)->commit(length))
    co_return fail(errc::io_error, "cannot publish " + req.output + ": " + ec.message());
  downloads_ok.add();
  collect_garbage();  // a new file may have pushed the cache over its limits
  result.event = "done";
  result.bytes = length;
  result.total = static_cast<std::int64_t>(length);
  result.from_supernode = outcome.summary.from_supernode;
  result.from_peers = outcome.summary.from_peers;
  result.elapsed_ms = static_cast<std::uint64_t>(outcome.summary.elapsed.count());
  co_return result;
}

asio::awaitable<void> daemon::impl::idle_watch() {
  auto self = shared_from_this();
  while (!stopped) {
    idle_timer.expires_after(std::chrono::seconds(1));
    co_await idle_timer.async_wait(nothrow);
    bool busy = local_clients > 0 || !downloading.empty() || uploads_active > 0;
    if (busy) last_activity = steady::now();
    if (!busy && !stopped && steady::now() - last_activity > cfg.idle_exit) {
      spdlog::info("idle for {} s; exiting", cfg.idle_exit.count());
      ::raise(SIGTERM);
      co_return;
    }
  }
}

std::vector<proto::cache_entry> daemon::impl::cache_entries() {
  std::vector<proto::cache_entry> out;
  for (const auto& [id, tf] : tasks) {
    auto m = tf->meta();
    out.push_back({id, m.url, store.disk_usage(id), m.complete, m.last_used});
  }
  return out;
}

std::vector<proto::cache_entry> daemon::impl::collect_garbage(const std::string& only) {
  std::vector<proto::cache_entry> removed;
  auto entries = cache_entries();
  std::uint64_t usage = 0;
  for (const auto& e : entries) usage += e.bytes;
  std::uint64_t free_bytes = cfg.min_free ? store.free_space() : 0;
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  // Least recently used first; never a task being downloaded or uploaded.
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.last_used < b.last_used; });
  for (const auto& e : entries) {
    bool busy = downloading.contains(e.task_id) || uploads_by_task[e.task_id] > 0;
    if (busy || (!e.complete && only.empty())) continue;
    bool evict = only.empty()
                     ? (cfg.cache_ttl.count() > 0 && now - e.last_used > cfg.cache_ttl.count()) ||
                           (cfg.cache_quota > 0 && usage > cfg.cache_quota) ||
                           (cfg.min_free > 0 && free_bytes < cfg.min_free)
                     : e.task_id == only;
    if (!evict) continue;
    tasks.erase(e.task_id);
    store.remove(e.task_id);
    usage -= std::min(usage, e.bytes);
    free_bytes += e.bytes;
    evictions.add();
    removed.push_back(e);
    spdlog::info("cache: removed task {} ({} bytes, {})", e.task_id.substr(0, 12), e.bytes, e.url);
  }
  tasks_gauge.set(tasks.size());
  return removed;
}

proto::local_event daemon::impl::cache_command(const proto::local_request& req) {
  proto::local_event e;
  e.event = "done";
  if (req.command == "cache_list") {
    e.tasks = cache_entries();
  } else if (req.command == "cache_gc") {
    e.tasks = collect_garbage();
  } else {  // cache_rm
    if (!tasks.contains(req.task)) {
      e.event = "error";
      e.code = "not_found";
      e.exit_code = exit_usage;
      e.message = "no task " + req.task + " in the cache";
      return e;
    }
    e.tasks = collect_garbage(req.task);
    if (e.tasks.empty()) {
      e.event = "error";
      e.code = "busy";
      e.exit_code = exit_local_io;
      e.message = "task " + req.task + " is being downloaded or uploaded; not removed";
    }
  }
  for (const auto& t : e.tasks) e.bytes += t.bytes;
  return e;
}

asio::awaitable<void> daemon::impl::announce(const std::shared_ptr<task_file>& tf) {
  auto m = tf->meta();
  if (m.url.empty()) co_return;
  proto::register_request r;
  r.url = m.url;
  r.filters = m.filters;
  r.tag = m.tag;
  r.digest = m.digest;
  r.identifier = m.identifier;
  r.peer_id = host_id;
  r.upload_addr = advertise;
  r.idc = cfg.idc;
  r.location = cfg.location;
  r.upload_slots = cfg.upload_slots;
  for (bool b : m.have) r.bitmap.push_back(b ? '1' : '0');
  r.version = m.version;
  http_request post;
  post.method = "POST";
  post.target = "/api/v1/tasks";
  post.headers.set("Content-Type", "application/json");
  post.body = proto::encode(r);
  auto resp = co_await supernode_client->fetch(post, 1 << 20);
  if (!resp || resp->head.status != 200) co_return;
  auto info = proto::decode<proto::task_info>(resp->body);
  if (info && !m.version.empty() && info.value->version != m.version && info.value->version != "") {
    // The source moved on: these pieces are no longer what peers ask for.
    spdlog::info("task {}: source changed; dropping the pieces held", m.task_id.substr(0, 12));
    tasks.erase(m.task_id);
    store.remove(m.task_id);
    tasks_gauge.set(tasks.size());
  }
}

asio::awaitable<void> daemon::impl::heartbeat_loop() {
  auto self = shared_from_this();
  http_client_options copts;
  copts.io_timeout = std::chrono::seconds(10);
  copts.connect_timeout = std::chrono::seconds(5);
  while (!stopped) {
    if (!supernode_client) {
      const auto& sn = cfg.supernodes[supernode_index % cfg.supernodes.size()];
      supernode_client = std::make_unique<http_client>(ex, sn.host, sn.port, copts);
    }
    proto::heartbeat_request hb;
    hb.upload_addr = advertise;
    for (const auto& [id, tf] : tasks)
      if (!downloading.contains(id)) hb.tasks.push_back(id);
    http_request post;
    post.method = "POST";
    post.target = "/api/v1/hosts/" + host_id + "/heartbeat";
    post.headers.set("Content-Type", "application/json");
    post.body = proto::encode(hb);
    auto resp = co_await supernode_client->fetch(post, 1 << 20);
    if (!resp) {
      supernode_client.reset();
      ++supernode_index;  // try the next supernode next time
    } else if (resp->head.status == 200) {
      auto answer = proto::decode<proto::heartbeat_response>(resp->body);
      if (answer) {
        for (const auto& id : answer.value->unknown_tasks) {
          auto it = tasks.find(id);
          if (it != tasks.end() && !downloading.contains(id)) co_await announce(it->second);
        }
      }
    }
    collect_garbage();
    heartbeat_timer.expires_after(cfg.heartbeat_interval);
    co_await heartbeat_timer.async_wait(nothrow);
  }
}

}  // namespace damselfly::dfget
