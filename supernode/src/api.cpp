// SPDX-License-Identifier: Apache-2.0
// HTTP routes of the supernode.
#include "api.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>

#include "damselfly/common/http_range.hpp"
#include "damselfly/common/task_id.hpp"
#include "damselfly/proto/messages.hpp"

namespace damselfly::supernode {

namespace asio = boost::asio;

namespace {

http_response json_error(unsigned status, std::string code, std::string message,
                         std::string field = "") {
  proto::error_response e;
  e.error.code = std::move(code);
  e.error.message = std::move(message);
  e.error.field = std::move(field);
  return http_response::json(status, proto::encode(e));
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    parts.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return parts;
}

bool valid_peer_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

scheduler::piece_outcome outcome_of(const std::string& status) {
  if (status == "ok") return scheduler::piece_outcome::ok;
  if (status == "bad_digest") return scheduler::piece_outcome::bad_digest;
  if (status == "unreachable") return scheduler::piece_outcome::unreachable;
  return scheduler::piece_outcome::error;
}

}  // namespace

api::api(const supernode_config& cfg, task_manager& tasks, metrics_registry& metrics)
    : cfg_(cfg),
      tasks_(tasks),
      metrics_(metrics),
      upload_bytes_(
          metrics.counter("damselfly_supernode_upload_bytes_total", "Piece bytes sent to peers")),
      registrations_(
          metrics.counter("damselfly_supernode_registrations_total", "Peer registrations")),
      assignments_from_peers_(metrics.counter("damselfly_supernode_assignments_total",
                                              "Piece assignments handed out, by source",
                                              R"(source="peer")")),
      assignments_from_supernode_(metrics.counter("damselfly_supernode_assignments_total",
                                                  "Piece assignments handed out, by source",
                                                  R"(source="supernode")")),
      failures_bad_digest_(metrics.counter("damselfly_supernode_piece_failures_total",
                                           "Piece downloads reported failed by peers, by reason",
                                           R"(reason="bad_digest")")),
      failures_unreachable_(metrics.counter("damselfly_supernode_piece_failures_total",
                                            "Piece downloads reported failed by peers, by reason",
                                            R"(reason="unreachable")")),
      failures_other_(metrics.counter("damselfly_supernode_piece_failures_total",
                                      "Piece downloads reported failed by peers, by reason",
                                      R"(reason="error")")),
      bad_requests_(metrics.counter("damselfly_supernode_bad_requests_total",
                                    "Requests answered with a 4xx status")),
      peers_gauge_(metrics.gauge("damselfly_supernode_peers", "Peers registered across tasks")) {
  if (cfg.upload_rate > 0)
    upload_limiter_ =
        std::make_shared<rate_limiter>(cfg.upload_rate, 256 * 1024, rate_limiter::clock::now());
}

asio::awaitable<http_response> api::handle(http_request& req) {
  auto parts = split_path(req.path());
  const auto& m = req.method;
  http_response resp;
  if (parts.size() == 1 && parts[0] == "healthz" && (m == "GET" || m == "HEAD")) {
    resp = http_response::text(200, "ok\n");
  } else if (parts.size() == 1 && parts[0] == "metrics" && m == "GET") {
    resp = http_response::text(200, metrics_.render());
    resp.headers.set("Content-Type", "text/plain; version=0.0.4");
  } else if (parts.size() == 2 && parts[0] == "pieces" && (m == "GET" || m == "HEAD")) {
    resp = serve_pieces(req, parts[1]);
  } else if (parts.size() == 5 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "hosts" &&
             parts[4] == "heartbeat" && m == "POST") {
    resp = heartbeat(req, parts[3]);
  } else if (parts.size() >= 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "tasks") {
    if (parts.size() == 3 && m == "POST") {
      resp = co_await register_task(req);
    } else if (parts.size() == 4 && m == "GET") {
      resp = task_status(parts[3]);
    } else if (parts.size() == 7 && parts[4] == "peers" && parts[6] == "sync" && m == "POST") {
      resp = co_await sync(req, parts[3], parts[5]);
    } else if (parts.size() == 6 && parts[4] == "peers" && m == "DELETE") {
      resp = leave(parts[3], parts[5]);
    } else {
      resp = json_error(404, "not_found", "no such endpoint: " + m + " " + std::string(req.path()));
    }
  } else {
    resp = json_error(404, "not_found", "no such endpoint: " + m + " " + std::string(req.path()));
  }
  if (resp.status >= 400 && resp.status < 500) bad_requests_.add();
  peers_gauge_.set(tasks_.peer_count());
  co_return resp;
}

asio::awaitable<http_response> api::register_task(http_request& req) {
  auto msg = proto::decode<proto::register_request>(req.body);
  if (!msg) co_return json_error(400, "bad_request", msg.error.message, msg.error.field);
  auto& r = *msg.value;
  if (!valid_peer_id(r.peer_id))
    co_return json_error(400, "bad_request", "peer_id must be 1-128 characters of [A-Za-z0-9._:-]",
                         "peer_id");
  auto url = http_url::parse(r.url);
  if (!url) co_return json_error(400, "bad_request", "url must be an absolute http(s) URL", "url");
  task_key key{r.url, r.filters, r.tag, r.digest, r.identifier, ""};
  auto id = make_task_id(key);
  if (!id) co_return json_error(400, "bad_request", "url cannot be normalized", "url");

  if (!r.upload_addr.empty() && !host_port::parse(r.upload_addr))
    co_return json_error(400, "bad_request", "upload_addr must be host:port", "upload_addr");
  registrations_.add();
  scheduler::peer_info who{r.upload_addr, r.idc, r.location,
                           r.upload_slots ? r.upload_slots : cfg_.peer_upload_slots};
  std::vector<bool> held(r.bitmap.size());
  for (std::size_t i = 0; i < r.bitmap.size(); ++i) held[i] = r.bitmap[i] == '1';
  auto t = tasks_.ensure(*id, r, *url);
  t->swarm.join(r.peer_id, who, held, task::clock::now());
  // Hold the answer until the layout is known, so the peer can plan at once.
  auto deadline = task::clock::now() + cfg_.max_wait;
  while ((t->phase == task_phase::probing || t->phase == task_phase::validating) &&
         task::clock::now() < deadline) {
    co_await t->wait_for_change(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - task::clock::now()));
    t = tasks_.find(*id);
  }
  // A failed task may have been replaced by a fresh one meanwhile.
  if (!t->swarm.has_peer(r.peer_id)) t->swarm.join(r.peer_id, who, held, task::clock::now());
  if (!r.bitmap.empty() && !r.version.empty() && !t->version.empty() && r.version != t->version) {
    // Pieces of another version of the source are not pieces of this one.
    t->swarm.leave(r.peer_id);
    t->swarm.join(r.peer_id, who, {}, task::clock::now());
  }
  co_return http_response::json(200, proto::encode(t->info()));
}

asio::awaitable<http_response> api::sync(http_request& req, const std::string& task_id,
                                         const std::string& peer) {
  auto msg = proto::decode<proto::sync_request>(req.body);
  if (!msg) co_return json_error(400, "bad_request", msg.error.message, msg.error.field);
  auto& s = *msg.value;
  auto t = tasks_.find(task_id);
  if (!t) co_return json_error(404, "unknown_task", "no task " + task_id + "; register first");
  if (!t->swarm.has_peer(peer))
    co_return json_error(404, "unknown_peer", "peer " + peer + " is not registered for this task");
  if (!s.version.empty() && !t->version.empty() && s.version != t->version)
    co_return json_error(409, "source_changed", "the source changed while it was being downloaded");

  auto now = task::clock::now();
  for (const auto& res : s.results) {
    auto outcome = outcome_of(res.status);
    if (outcome == scheduler::piece_outcome::bad_digest) failures_bad_digest_.add();
    if (outcome == scheduler::piece_outcome::unreachable) failures_unreachable_.add();
    if (outcome == scheduler::piece_outcome::error) failures_other_.add();
    t->swarm.report(peer, res.piece, outcome, res.source, now);
  }
  auto wait =
      std::min<std::chrono::milliseconds>(std::chrono::milliseconds(s.wait_ms), cfg_.max_wait);
  auto deadline = now + wait;
  auto want = std::min(s.want, cfg_.max_assignments);
  proto::sync_response out;
  for (;;) {
    if (tasks_.find(task_id) != t) {
      co_return json_error(409, "source_changed", "the task was restarted; register again");
    }
    if (t->phase == task_phase::fetching || t->phase == task_phase::done) {
      for (const auto& d : t->swarm.assign(peer, want, task::clock::now())) {
        auto range = piece_at(d.piece,
                              t->content_length >= 0 ? static_cast<std::uint64_t>(t->content_length)
                                                     : (d.piece + 1) * t->piece_size,
                              t->piece_size);
        out.assignments.push_back(
            {d.piece, range.offset, range.length, t->digests[d.piece], d.source});
        (d.source == scheduler::supernode_source ? assignments_from_supernode_
                                                 : assignments_from_peers_)
            .add();
      }
    }
    if (!out.assignments.empty() || t->phase == task_phase::failed || want == 0 ||
        task::clock::now() >= deadline)
      break;
    co_await t->wait_for_change(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - task::clock::now()));
  }
#ifndef NDEBUG
  t->swarm.check_invariants();  // debug builds: every sync re-derives the swarm's counts
#endif
  out.task = t->info();
  // Syncs are the bulk of the control traffic on the supernode's link, one
  // per few pieces per peer: the whole-file digest stays in the registration
  // and status answers.
  out.task.file_sha256.clear();
  // A few peers may report every piece at once (that keeps their pipelines
  // full); a crowd reports in batches so syncs do not eat the link.
  out.report_every = t->swarm.peer_count() >= cfg_.batch_reports_from ? 4 : 1;
  co_return http_response::json(200, proto::encode(out));
}

http_response api::leave(const std::string& task_id, const std::string& peer) {
  auto t = tasks_.find(task_id);
  if (!t) return json_error(404, "unknown_task", "no task " + task_id);
  t->swarm.leave(peer);
  return http_response{204, {}, {}, {}};
}

http_response api::heartbeat(http_request& req, const std::string& host) {
  auto msg = proto::decode<proto::heartbeat_request>(req.body);
  if (!msg) return json_error(400, "bad_request", msg.error.message, msg.error.field);
  proto::heartbeat_response out;
  auto now = task::clock::now();
  for (const auto& id : msg.value->tasks) {
    auto t = tasks_.find(id);
    if (t && t->swarm.has_peer(host)) {
      t->swarm.touch(host, now);
    } else {
      out.unknown_tasks.push_back(id);
    }
  }
  return http_response::json(200, proto::encode(out));
}

http_response api::task_status(const std::string& task_id) {
  auto t = tasks_.find(task_id);
  if (!t) return json_error(404, "unknown_task", "no task " + task_id);
  return http_response::json(200, proto::encode(t->info()));
}

http_response api::serve_pieces(http_request& req, const std::string& task_id) {
  auto t = tasks_.find(task_id);
  if (!t || !is_valid_task_id(task_id))
    return json_error(404, "unknown_task", "no task " + task_id);
  if (!(t->phase == task_phase::fetching || t->phase == task_phase::done) || !t->fd)
    return json_error(404, "not_ready", "task has no servable pieces yet");
  bool length_known = t->content_length >= 0;
  std::uint64_t length = length_known ? static_cast<std::uint64_t>(t->content_length)
                                      : t->ready.size() * t->piece_size;
  piece_range range{0, length};
  auto header = req.headers.get("Range");
  if (header) {
    auto parsed = parse_range_header(*header, length);
    if (!parsed) {
      if (parsed.error() == errc::range_not_satisfiable) {
        auto resp = json_error(416, "range_not_satisfiable", "range outside the content");
        if (length_known) resp.headers.set("Content-Range", "bytes */" + std::to_string(length));
        return resp;
      }
      return json_error(400, "bad_request", "malformed or multiple Range", "Range");
    }
    range = *parsed;
  } else if (t->phase != task_phase::done) {
    return json_error(404, "not_ready", "whole file requested before it is cached");
  }
  if (range.length > 0) {
    std::uint64_t first = range.offset / t->piece_size;
    std::uint64_t last = (range.end() - 1) / t->piece_size;
    for (std::uint64_t i = first; i <= last; ++i)
      if (i >= t->ready.size() || !t->ready[i])
        return json_error(404, "not_ready", "piece " + std::to_string(i) + " is not cached yet");
  }
  http_response resp;
  resp.status = header ? 206 : 200;
  resp.headers.set("Content-Type", "application/octet-stream");
  if (header && length_known) {
    resp.headers.set("Content-Range", format_content_range(range, length));
  } else if (header) {
    resp.headers.set("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                          std::to_string(range.end() - 1) + "/*");
  }
  // A peer that names itself and then drops the connection mid-piece is gone
  // (killed, or its host is): its assignments would hold seed slots until its
  // timeout, stalling everyone else. A live peer that merely lost a connection
  // is told unknown_peer at its next sync and registers again.
  std::string asker(req.headers.get("X-Damselfly-Peer").value_or(""));
  std::weak_ptr<task> weak = t;
  resp.file = file_slice{t->fd,
                         range.offset,
                         range.length,
                         [this, weak, asker, want = range.length](std::uint64_t n) {
                           upload_bytes_.add(n);
                           auto live = weak.lock();
                           if (n >= want || asker.empty() || !live) return;
                           if (!live->swarm.has_peer(asker)) return;
                           spdlog::info(
                               "task {}: peer {} dropped a piece upload; releasing its "
                               "assignments",
                               live->id.substr(0, 12), asker);
                           live->swarm.leave(asker);
                           live->notify();
                         },
                         {}};
  if (upload_limiter_) {
    resp.file->pace = make_pacer(upload_limiter_);
  }
  return resp;
}

}  // namespace damselfly::supernode
