// SPDX-License-Identifier: Apache-2.0
// piece_server: routes of the daemon's HTTP server and the upload slot accounting.
#include "piece_server.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>
#include <utility>

#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/piece_math.hpp"
#include "damselfly/common/serve_range.hpp"
#include "damselfly/common/ticket_verifier.hpp"
#include "damselfly/proto/have_stream.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;

http_server_options piece_server::server_options() {
  http_server_options o;
  // A child repeats its token, name and ticket in every piece request:
  // about 290 of its 530 bytes, on the child's own uplink, where the swarm
  // carries every piece. They cross once per connection instead.
  o.kept_headers = {"Authorization", "X-Damselfly-Peer", std::string(ticket_header)};
  return o;
}

piece_server::piece_server(asio::any_io_executor ex, const daemon_config& cfg, task_cache& tasks,
                           metrics_registry& metrics)
    : cfg_(cfg),
      tasks_(tasks),
      metrics_(metrics),
      uploaded_(
          metrics.counter("damselfly_daemon_upload_bytes_total", "Piece bytes served to peers")),
      uploads_refused_(
          metrics.counter("damselfly_daemon_uploads_refused_total",
                          "Piece requests refused because every upload slot was busy")),
      haves_sent_(metrics.counter("damselfly_daemon_have_notices_total",
                                  "Pieces told to children on have streams", R"(outcome="sent")")),
      haves_skipped_(metrics.counter("damselfly_daemon_have_notices_total",
                                     "Pieces told to children on have streams",
                                     R"(outcome="skipped")")),
      disk_(metrics, "damselfly_daemon", cfg.data_dir),
      server_(
          ex, [this](http_request& r) { return router_.handle(r); }, server_options()) {
  if (cfg.upload_rate > 0)
    upload_limiter_ =
        std::make_shared<rate_limiter>(cfg.upload_rate, 256 * 1024, rate_limiter::clock::now());
  using params = const route_params&;
  router_.add("GET", "/healthz", "health",
              [](http_request&, params) -> asio::awaitable<http_response> {
                co_return http_response::text(200, "ok\n");
              });
  router_.add("GET", "/metrics", "metrics",
              [this](http_request&, params) -> asio::awaitable<http_response> {
                disk_.refresh();
                auto r = http_response::text(200, metrics_.render());
                r.headers.set("Content-Type", "text/plain; version=0.0.4");
                co_return r;
              });
  if (!cfg.cluster_token.empty())
    router_.use(require_bearer_token(cfg.cluster_token, {"health", "metrics"}));
  router_.add("GET", "/pieces/{task}", "pieces",
              [this](http_request& req, params p) -> asio::awaitable<http_response> {
                co_return serve_pieces(req, std::string(p.get("task")));
              });
  router_.add("GET", "/haves/{task}", "haves",
              [this](http_request& req, params p) -> asio::awaitable<http_response> {
                co_return serve_haves(req, std::string(p.get("task")));
              });
}

namespace {

/// A child's view of what this daemon holds of one task: the bitmap, then
/// each piece as it is verified here (proto/have_stream.hpp).
class have_stream : public http_stream {
 public:
  /// `child`: the asker's upload address, if it said (a hint, see
  /// proto::upload_addr_header).
  have_stream(std::shared_ptr<task_cache::task_news> news, std::string start, std::string child,
              metric_value& told, metric_value& skipped)
      : news_(std::move(news)),
        start_(std::move(start)),
        child_(std::move(child)),
        told_(told),
        skipped_(skipped),
        sent_(news_->arrivals.size()) {}

  asio::awaitable<std::optional<std::string>> next() override {
    if (!start_.empty()) co_return std::exchange(start_, {});
    for (;;) {
      if (news_->gone) co_return std::nullopt;
      if (sent_ == news_->arrivals.size()) {
        // Quiet for a while: a line to keep the connection (and the child's
        // read deadline) alive.
        bool told = co_await news_->changed.wait_for(keepalive_after);
        if (news_->gone) co_return std::nullopt;
        if (!told && sent_ == news_->arrivals.size())
          co_return std::string(proto::have_stream_keepalive);
        // Pieces arriving close together go out in one packet: a notice per
        // piece per child was most of a swarm's packets (and its CPU).
        asio::steady_timer gather(co_await asio::this_coro::executor, coalesce_for);
        co_await gather.async_wait(asio::as_tuple(asio::use_awaitable));
        if (news_->gone) co_return std::nullopt;
      }
      // Not what the child said it holds (it is this host's parent too):
      // about half of all notices in a swarm, and each was a packet.
      std::string lines;
      for (; sent_ < news_->arrivals.size(); ++sent_) {
        auto piece = news_->arrivals[sent_];
        if (!child_.empty() && news_->peer_holds && news_->peer_holds(child_, piece)) {
          skipped_.add();
          continue;
        }
        told_.add();
        lines += proto::have_stream_piece(piece);
      }
      if (!lines.empty()) co_return lines;
    }
  }

 private:
  static constexpr std::chrono::seconds keepalive_after{10};
  static constexpr std::chrono::milliseconds coalesce_for{20};
  std::shared_ptr<task_cache::task_news> news_;
  std::string start_;
  std::string child_;
  metric_value& told_;
  metric_value& skipped_;
  std::size_t sent_;
};

}  // namespace

std::optional<http_response> piece_server::refuse(const http_request& req,
                                                  const std::string& task_id,
                                                  const task_meta& meta) {
  if (meta.piece_size == 0 || meta.content_length < 0)
    return http_response::error(404, "not_ready", "nothing held yet");
  // Only peers the supernode registered for this task get its pieces (and
  // hear what it holds); the ticket proves it without a call to the supernode.
  auto check = tickets_.check(meta.ticket_key, req.headers.get(ticket_header).value_or(""), task_id,
                              req.headers.get("X-Damselfly-Peer").value_or(""), std::time(nullptr));
  if (!check)
    return http_response::error(404, "not_registered", "this task is not registered here yet");
  if (*check != ticket_check::ok)
    return http_response::error(
        403, "bad_ticket", "pieces go to this task's peers only: " + std::string(describe(*check)));
  return std::nullopt;
}

http_response piece_server::serve_haves(const http_request& req, const std::string& task_id) {
  auto tf = tasks_.find(task_id);
  if (!tf) return http_response::error(404, "not_found", "no such task here");
  auto meta = tf->meta();
  if (auto no = refuse(req, task_id, meta)) return std::move(*no);
  // The bitmap and the position in the arrivals are taken together (one
  // thread, no wait between): no piece falls between them.
  // The bitmap as long as the task: pieces not yet recorded are not held.
  auto held = meta.have;
  held.resize(piece_count(static_cast<std::uint64_t>(meta.content_length), meta.piece_size));
  http_response r;
  r.headers.set("Content-Type", "text/plain");
  r.stream = std::make_shared<have_stream>(
      tasks_.news(task_id), proto::have_stream_start(held),
      std::string(req.headers.get(proto::upload_addr_header).value_or("")), haves_sent_,
      haves_skipped_);
  return r;
}

http_response piece_server::serve_pieces(const http_request& req, const std::string& task_id) {
  auto tf = tasks_.find(task_id);
  if (!tf) return http_response::error(404, "not_found", "no such task here");
  auto meta = tf->meta();
  if (auto no = refuse(req, task_id, meta)) return std::move(*no);
  range_source src;
  src.fd = tf->fd();
  src.length = static_cast<std::uint64_t>(meta.content_length);
  src.holds = [&tf](const piece_range& r) { return tf->holds_range(r.offset, r.length); };
  auto resp = serve_range(req, src);
  if (!resp.file || req.method == "HEAD") return resp;
  const bool child = req.headers.get(want_signed_digest_header) == "1";
  if (uploads_active_ >=
      (child ? std::min(cfg_.child_upload_slots, cfg_.upload_slots) : cfg_.upload_slots)) {
    uploads_refused_.add();
    return http_response::error(503, "busy", "all upload slots busy");
  }
  // The supernode's signature of the piece's digest, passed on when it came
  // with the piece (the parent-set protocol).
  if (child) {
    // A child of the parent-set protocol asks on its own, with no supernode
    // counting this source's load: its upload holds the slot until the
    // child has every byte. (A whole piece sat in the socket buffer after
    // the last write and the slot was free again; children started more
    // transfers than the link carried and its queue dropped packets.
    // Centrally scheduled peers are counted by the supernode until they
    // report: for them, and a warm loopback fetch, the wait cost 6%.)
    resp.file->until_acked = true;
    auto piece = resp.file->offset / meta.piece_size;
    auto whole = piece_at(piece, static_cast<std::uint64_t>(meta.content_length), meta.piece_size);
    if (whole.offset == resp.file->offset && whole.length == resp.file->length)
      if (auto sig = tasks_.signed_digest(task_id, piece); !sig.empty())
        resp.headers.set(std::string(signed_digest_header), sig);
  }
  tf->update([](task_meta& m) { m.last_used = std::time(nullptr); });
  // The slot is held by the response itself: however its send ends, or if
  // it is dropped unsent, destroying it gives the slot back.
  auto slot = std::shared_ptr<void>(this, [this, task_id](piece_server*) {
    --uploads_active_;
    tasks_.upload_finished(task_id);
  });
  ++uploads_active_;
  tasks_.upload_started(task_id);
  resp.file->on_sent = [this, slot](std::uint64_t n) { uploaded_.add(n); };
  if (upload_limiter_) resp.file->pace = make_pacer(upload_limiter_);
  return resp;
}

}  // namespace damselfly::dfget
