// SPDX-License-Identifier: Apache-2.0
// HTTP routes of the supernode.
#include "api.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <nlohmann/json.hpp>

#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/digest.hpp"
#include "damselfly/common/http_range.hpp"
#include "damselfly/common/offload.hpp"
#include "damselfly/common/secret_file.hpp"
#include "damselfly/common/serve_range.hpp"
#include "damselfly/common/task_id.hpp"
#include "damselfly/proto/checks.hpp"
#include "damselfly/proto/messages.hpp"
#include "replicator.hpp"

namespace damselfly::supernode {

namespace asio = boost::asio;

namespace {

http_response json_error(unsigned status, std::string_view code, std::string_view message,
                         std::string_view field = {}) {
  return http_response::error(status, code, message, field);
}

/// The peer key a request presents (empty when none).
std::string_view presented_key(const http_request& req) {
  return req.headers.get("X-Damselfly-Peer-Key").value_or("");
}

http_response wrong_key(const std::string& peer) {
  return json_error(403, "bad_peer_key",
                    "the key of peer " + peer +
                        " is missing or wrong (X-Damselfly-Peer-Key, from its registration)");
}

bool valid_peer_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

scheduler::piece_outcome outcome_of(proto::piece_status status) {
  switch (status) {
    case proto::piece_status::ok:
      return scheduler::piece_outcome::ok;
    case proto::piece_status::bad_digest:
      return scheduler::piece_outcome::bad_digest;
    case proto::piece_status::unreachable:
      return scheduler::piece_outcome::unreachable;
    case proto::piece_status::error:
      break;
  }
  return scheduler::piece_outcome::error;
}

/// A route handler from a function that answers at once.
template <class Fn>
route_handler plain(Fn fn) {
  return [fn](http_request& req, const route_params& p) -> asio::awaitable<http_response> {
    co_return fn(req, p);
  };
}

/// A request's body as a T: decoded already on the connection's thread
/// (api::prepare), or here.
template <class T>
proto::decoded<T> body_as(http_request& req) {
  if (auto* early = std::any_cast<proto::decoded<T>>(&req.prepared)) return std::move(*early);
  return proto::decode<T>(req.body);
}

}  // namespace

api::api(const supernode_config& cfg, task_manager& tasks, job_manager& jobs, host_board& board,
         metrics_registry& metrics)
    : cfg_(cfg),
      tasks_(tasks),
      jobs_(jobs),
      board_(board),
      dashboard_(tasks, board),
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
      syncs_asking_(metrics.counter("damselfly_supernode_syncs_total",
                                    "Syncs handled, by whether they ask for pieces or only report",
                                    R"(kind="ask")")),
      syncs_reporting_(metrics.counter(
          "damselfly_supernode_syncs_total",
          "Syncs handled, by whether they ask for pieces or only report", R"(kind="report")")),
      held_wakeups_(
          metrics.counter("damselfly_supernode_held_sync_wakeups_total",
                          "Times a held sync (a long poll) woke to look again, notified or not")),
      peers_gauge_(metrics.gauge("damselfly_supernode_peers", "Peers registered across tasks")),
      sync_seconds_(metrics.histogram("damselfly_supernode_sync_duration_seconds",
                                      "Time to handle a sync, not counting its long-poll wait",
                                      request_duration_buckets())),
      disk_(metrics, "damselfly_supernode", cfg.data_dir) {
  if (cfg.upload_rate > 0)
    upload_limiter_ =
        std::make_shared<rate_limiter>(cfg.upload_rate, 256 * 1024, rate_limiter::clock::now());
  add_routes();
}

void api::add_routes() {
  using params = const route_params&;
  router_.add("GET", "/healthz", "health",
              plain([](http_request&, params) { return http_response::text(200, "ok\n"); }));
  router_.add("GET", "/metrics", "metrics", plain([this](http_request&, params) {
                disk_.refresh();
                auto resp = http_response::text(200, metrics_.render());
                resp.headers.set("Content-Type", "text/plain; version=0.0.4");
                return resp;
              }));
  router_.add("GET", "/pieces/{task}", "pieces", plain([this](http_request& req, params p) {
                return serve_pieces(req, std::string(p.get("task")));
              }));
  router_.add("POST", "/api/v1/hosts/{host}/heartbeat", "heartbeat",
              plain([this](http_request& req, params p) {
                return heartbeat(req, std::string(p.get("host")));
              }));
  router_.add("POST", "/api/v1/tasks", "register",
              [this](http_request& req, params) { return register_task(req); });
  router_.add("GET", "/api/v1/tasks/{task}", "status", plain([this](http_request&, params p) {
                return task_status(std::string(p.get("task")));
              }));
  router_.add("POST", "/api/v1/tasks/{task}/peers/{peer}/sync", "sync",
              [this](http_request& req, params p) {
                return sync(req, std::string(p.get("task")), std::string(p.get("peer")));
              });
  router_.add("POST", "/api/v1/replicas", "replica",
              plain([this](http_request& req, params) { return receive_replica(req); }));
  // Every job route is named "jobs": the admin token guards them all.
  router_.add("POST", "/api/v1/jobs", "jobs",
              plain([this](http_request& req, params) { return create_job(req); }));
  router_.add("GET", "/api/v1/jobs", "jobs", plain([this](http_request&, params) {
                jobs_.tick();  // what the tasks say now, not at the last housekeeping
                auto all = jobs_.list();
                for (auto& j : all.jobs) j = shown(std::move(j));
                return http_response::json(200, proto::encode(all));
              }));
  router_.add("GET", "/api/v1/jobs/{id}", "jobs", plain([this](http_request&, params p) {
                jobs_.tick();
                auto j = jobs_.get(std::string(p.get("id")));
                if (!j) return json_error(404, "unknown_job", "no job " + std::string(p.get("id")));
                return http_response::json(200, proto::encode(shown(std::move(*j))));
              }));
  router_.add("DELETE", "/api/v1/jobs/{id}", "jobs", plain([this](http_request&, params p) {
                auto j = jobs_.cancel(std::string(p.get("id")));
                if (!j) return json_error(404, "unknown_job", "no job " + std::string(p.get("id")));
                return http_response::json(200, proto::encode(shown(std::move(*j))));
              }));
  router_.add("DELETE", "/api/v1/tasks/{task}/peers/{peer}", "leave",
              plain([this](http_request& req, params p) {
                return leave(req, std::string(p.get("task")), std::string(p.get("peer")));
              }));
  add_dashboard_routes();
}

void api::add_dashboard_routes() {
  using params = const route_params&;
  // The page holds no data: it is open, and asks for the admin token to
  // read the JSON below ("dashboard" routes, guarded like "jobs").
  auto page = plain([](http_request&, params p) {
    auto file = dashboard::asset(p.get("file"));
    return file ? std::move(*file) : json_error(404, "not_found", "no such dashboard file");
  });
  router_.add("GET", "/ui", "ui", page);
  router_.add("GET", "/ui/{file}", "ui", page);
  router_.add("GET", "/api/v1/tasks", "dashboard", plain([this](http_request&, params) {
                return http_response::json(200,
                                           proto::encode(dashboard_.tasks(task::clock::now())));
              }));
  router_.add("GET", "/api/v1/hosts", "dashboard", plain([this](http_request&, params) {
                return http_response::json(200,
                                           proto::encode(dashboard_.hosts(task::clock::now())));
              }));
  router_.add("GET", "/api/v1/tasks/{task}/pieces", "dashboard",
              plain([this](http_request&, params p) {
                auto map = dashboard_.pieces(std::string(p.get("task")));
                if (!map)
                  return json_error(404, "unknown_task", "no task " + std::string(p.get("task")));
                return http_response::json(200, proto::encode(*map));
              }));
}

asio::awaitable<http_response> api::handle(http_request& req) {
  auto resp = co_await router_.handle(req);
  if (resp.status >= 400 && resp.status < 500) bad_requests_.add();
  peers_gauge_.set(tasks_.peer_count());
  co_return resp;
}

asio::awaitable<http_response> api::register_task(http_request& req) {
  auto msg = body_as<proto::register_request>(req);
  if (!msg) co_return json_error(400, "bad_request", msg.error.message, msg.error.field);
  auto& r = *msg.value;
  if (!valid_peer_id(r.peer_id))
    co_return json_error(400, "bad_request", "peer_id must be 1-128 characters of [A-Za-z0-9._:-]",
                         "peer_id");
  auto url = http_url::parse(r.identity.url);
  if (!url) co_return json_error(400, "bad_request", "url must be an absolute http(s) URL", "url");
  auto id = tasks_.task_id_for(r.identity, r.headers);
  if (!id) co_return json_error(400, "bad_request", "url cannot be normalized", "url");

  if (auto bad = proto::check_origin_headers(r.headers))
    co_return json_error(400, "bad_request", "header '" + bad->name + "' " + bad->why,
                         "headers." + bad->name);
  if (!r.upload_addr.empty() && !host_port::parse(r.upload_addr))
    co_return json_error(400, "bad_request", "upload_addr must be host:port", "upload_addr");
  // A peer id in use is its registrant's: registering it again takes its key.
  if (auto known = tasks_.find(*id); known && known->swarm.has_peer(r.peer_id) &&
                                     known->peer_keys.contains(r.peer_id) &&
                                     !known->key_matches(r.peer_id, presented_key(req)))
    co_return json_error(403, "peer_taken",
                         "peer " + r.peer_id +
                             " is registered for this task; registering it again takes its key "
                             "(X-Damselfly-Peer-Key)",
                         "peer_id");
  if (tasks_.over_task_limit(*id, req.remote_address))
    co_return json_error(429, "too_many_tasks",
                         req.remote_address + " already has " +
                             std::to_string(cfg_.max_tasks_per_address) +
                             " tasks being fetched; retry when one finishes");
  registrations_.add();
  scheduler::peer_info who{r.upload_addr, r.idc, r.location,
                           r.upload_slots ? r.upload_slots : cfg_.peer_upload_slots,
                           req.remote_address};
  auto held = proto::decode_bitmap(r.bitmap);
  auto t = tasks_.ensure(*id, r, *url, req.remote_address);
  // A registration says what the peer holds now: one registered before
  // (its key matched) may have lost what it held then (its cache removed
  // the task), and pieces it no longer has must not keep it from being sent
  // them.
  t->swarm.leave(r.peer_id);
  // The bitmap is taken once the layout says how many pieces there are.
  t->swarm.join(r.peer_id, who, {}, task::clock::now());
  // A daemon's own heartbeats describe it; a registration only a client
  // that sends none (a standalone dfget).
  if (board_.keyed(r.peer_id))
    board_.seen(r.peer_id, task::clock::now());
  else
    board_.heard_from(r.peer_id, r.upload_addr, r.idc, r.location, req.remote_address,
                      task::clock::now());
  // Hold the answer until the layout is known, so the peer can plan at once.
  auto deadline = task::clock::now() + cfg_.max_wait;
  while ((t->phase == task_phase::probing || t->phase == task_phase::validating) &&
         task::clock::now() < deadline) {
    co_await t->wait_for_change(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - task::clock::now()));
    t = tasks_.find(*id);
  }
  // A failed task may have been replaced by a fresh one meanwhile.
  if (!t->swarm.has_peer(r.peer_id)) t->swarm.join(r.peer_id, who, {}, task::clock::now());
  // Pieces of another version of the source are not pieces of this one.
  bool same_version = r.version.empty() || t->version.empty() || r.version == t->version;
  auto answer = [&] {
    auto info = t->info();
    info.peer_key = t->issue_key(r.peer_id, presented_key(req));
    info.ticket_key = signer_->public_key();
    return http_response::json(200, proto::encode(info));
  };
  if (held.empty() || !same_version) co_return answer();
  if (t->piece_count() >= 0 && held.size() > static_cast<std::uint64_t>(t->piece_count())) {
    t->swarm.leave(r.peer_id);
    co_return json_error(400, "bad_request",
                         "bitmap has " + std::to_string(held.size()) + " pieces; the task has " +
                             std::to_string(t->piece_count()),
                         "bitmap");
  }
  // Length still unknown: only pieces the supernode has seen can be held.
  if (held.size() > t->ready.size()) held.resize(t->ready.size());
  t->swarm.join(r.peer_id, who, held, task::clock::now());
  spdlog::debug("task {}: peer {} registered holding {} pieces", t->id.substr(0, 12), r.peer_id,
                t->swarm.held_count(r.peer_id));
  co_return answer();
}

void api::prepare(http_request& req) {
  // Syncs are most of the requests at scale, and decoding one is about a
  // fifth of what the scheduling thread spends on it.
  if (req.method != "POST") return;
  if (req.path().ends_with("/sync"))
    req.prepared = proto::decode<proto::sync_request>(req.body);
  else if (req.path() == "/api/v1/tasks")  // a registration: 10,000 at a release
    req.prepared = proto::decode<proto::register_request>(req.body);
}

// By value: the route handler that calls this returns the awaitable before it runs.
asio::awaitable<http_response> api::sync(http_request& req, std::string task_id, std::string peer) {
  auto msg = body_as<proto::sync_request>(req);
  if (!msg) co_return json_error(400, "bad_request", msg.error.message, msg.error.field);
  auto& s = *msg.value;
  auto t = tasks_.find(task_id);
  if (!t) co_return json_error(404, "unknown_task", "no task " + task_id + "; register first");
  if (!t->swarm.has_peer(peer))
    co_return json_error(404, "unknown_peer", "peer " + peer + " is not registered for this task");
  if (!t->key_matches(peer, presented_key(req))) co_return wrong_key(peer);
  if (!s.version.empty() && !t->version.empty() && s.version != t->version)
    co_return json_error(409, "source_changed", "the source changed while it was being downloaded");

  // A peer can only report pieces it was assigned, and those exist: any
  // other index is a lie, refused before it reaches the swarm's tables.
  for (std::size_t i = 0; i < s.results.size(); ++i)
    if (s.results[i].piece >= t->ready.size())
      co_return json_error(400, "bad_request",
                           "piece " + std::to_string(s.results[i].piece) + " does not exist",
                           "results[" + std::to_string(i) + "].piece");
  (s.want > 0 ? syncs_asking_ : syncs_reporting_).add();
  auto now = task::clock::now();
  // Any sync is a sign of life, also one that asks for nothing (every slot
  // busy) and reports nothing.
  t->swarm.touch(peer, now);
  board_.seen(peer, now);
  proto::sync_response out;
  for (const auto& res : s.results) {
    auto outcome = outcome_of(res.status);
    if (outcome == scheduler::piece_outcome::ok && s.report_digests)
      outcome = check_reported(*t, peer, res, out.rejected);
    if (outcome == scheduler::piece_outcome::bad_digest) failures_bad_digest_.add();
    if (outcome == scheduler::piece_outcome::unreachable) failures_unreachable_.add();
    if (outcome == scheduler::piece_outcome::error) failures_other_.add();
    if (outcome == scheduler::piece_outcome::ok) count_moved(*t, peer, res, now);
    t->swarm.report(peer, res.piece, outcome, res.source, now);
  }
  // A report frees an upload slot and may add a holder: a peer whose sync
  // waits for work (nothing in flight, every source of what it lacks busy)
  // may have some now. Before, only a newly cached piece woke it, and once
  // the file was cached such a peer waited out its whole wait_ms.
  // A report of a piece from peers does not change what the supernode can
  // inject; one of its own pieces frees a seed slot (or, lost, is to be
  // sent again).
  if (!s.results.empty()) {
    t->notify_central();
    if (std::any_of(s.results.begin(), s.results.end(),
                    [](const auto& r) { return r.source == scheduler::supernode_source; }))
      t->notify_seed();
  }
  const auto handling = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration waited{};
  auto wait =
      std::min<std::chrono::milliseconds>(std::chrono::milliseconds(s.wait_ms), cfg_.max_wait);
  auto deadline = now + wait;
  auto want = std::min(s.want, cfg_.max_assignments);
  // Digests stay off this link for a compact peer that reports its own.
  const bool with_digests = !(s.report_digests && s.compact && t->content_length >= 0);
  // The parent-set protocol, for a peer that speaks it: parents, and from
  // the supernode only pieces nobody holds (their signed digests come with
  // the pieces). New parents are worth an answer at once. Not for a peer
  // that serves nothing: a piece injected into it would reach nobody else,
  // and a crowd of such clients waited for pieces that were never sent again.
  if (cfg_.parents > 0 && t->swarm.peer_count() >= cfg_.parents_from) t->parent_sets = true;
  const bool parent_sets = t->parent_sets && s.parents && s.compact && s.report_digests &&
                           t->content_length >= 0 && t->swarm.serves(peer);
  if (parent_sets) {
    out.parent_sets = true;
    auto given = t->swarm.parent_count(peer);
    out.parents = t->swarm.parents_for(
        peer, given < cfg_.parents ? cfg_.parents - static_cast<unsigned>(given) : 0);
    // Held only while the origin still sends: once every piece is cached
    // nothing new comes to inject (but a lost one), and a peer waiting on
    // this answer may be done with the rest of the file meanwhile.
    if (!out.parents.empty()) deadline = now;
  }
  for (;;) {
    if (tasks_.find(task_id) != t) {
      co_return json_error(409, "source_changed", "the task was restarted; register again");
    }
    if (t->phase == task_phase::fetching || t->phase == task_phase::done)
      book(*t,
           parent_sets ? t->swarm.inject(peer, want, task::clock::now())
                       : t->swarm.assign(peer, want, task::clock::now()),
           with_digests, out);
    // What is left to inject, if anything, goes to the next held ask.
    if (parent_sets && !out.assignments.empty()) t->notify_seed();
    if (!out.assignments.empty() || t->phase == task_phase::failed || want == 0 ||
        task::clock::now() >= deadline || (parent_sets && t->phase != task_phase::fetching))
      break;
    const auto asleep = std::chrono::steady_clock::now();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - task::clock::now());
    if (parent_sets)
      co_await t->wait_for_seed(left);
    else
      co_await t->wait_for_change(left);
    held_wakeups_.add();
    waited += std::chrono::steady_clock::now() - asleep;
  }
#ifndef NDEBUG
  t->swarm.check_invariants();  // debug builds: every sync re-derives the swarm's counts
#endif
  // Syncs are the bulk of the control traffic on the supernode's link, one
  // per few pieces per peer: the task goes out only when the peer's view of
  // it is out of date, never with the whole-file digest (registration and
  // status answers carry that), and the ticket only when the peer lacks it.
  auto info = t->info();
  if (s.known_state != proto::to_string(info.state) || s.version != info.version) {
    info.file_sha256.clear();
    out.task = std::move(info);
  }
  // A few peers may report every piece at once (that keeps their pipelines
  // full); a crowd reports in batches so syncs do not eat the link. Said
  // only when the peer follows another value; to an older client that does
  // not say, only when it is not the default 1.
  const std::uint32_t report_every = t->swarm.peer_count() >= cfg_.batch_reports_from ? 4 : 1;
  if (s.report_every != report_every && (s.report_every != 0 || report_every != 1))
    out.report_every = report_every;
  // Compact assignments are about 40% of the full form's bytes: their
  // offset and length follow from the layout, which needs a known length.
  out.compact = s.compact && t->content_length >= 0;
  const std::string* ticket = held_ticket(*t, peer);
  std::string fresh;
  if (!ticket) {
    auto issued = issue_ticket(t, peer);  // (not inside the co_await: see issue_ticket)
    fresh = co_await std::move(issued);
    ticket = &fresh;
  }
  if (s.ticket_tail.size() < 16 || !ticket->ends_with(s.ticket_tail)) out.ticket = *ticket;
  // Nothing new for a peer that reads compact answers (every source busy): a
  // 204, no body, about half the bytes of the smallest 200.
  auto answer = s.compact && out.assignments.empty() && !out.task && out.ticket.empty() &&
                        out.report_every == 0 && out.rejected.empty() && out.parents.empty()
                    ? http_response{204, {}, {}, {}, {}}
                    : http_response::json(200, proto::encode(out));
  // A compact peer knows what the answer is: no Content-Type, 32 bytes of
  // every answer on the link that carries the pieces.
  if (s.compact) answer.headers.erase("Content-Type");
  sync_seconds_.observe(std::chrono::steady_clock::now() - handling - waited);
  co_return answer;
}

void api::count_moved(task& t, const std::string& peer, const proto::piece_result& res,
                      task::clock::time_point now) {
  // Only a piece the peer had in flight moved: a report of any other is a
  // repeat (or a lie) and adds nothing to the figures.
  if (t.piece_size == 0 || !t.swarm.in_flight(peer, res.piece)) return;
  auto length = t.content_length >= 0 ? static_cast<std::uint64_t>(t.content_length)
                                      : t.ready.size() * t.piece_size;
  auto bytes = piece_at(res.piece, length, t.piece_size).length;
  board_.piece_moved(peer, res.source, bytes, now);
  if (res.source != scheduler::supernode_source) t.peer_bytes += bytes;
}

http_response api::receive_replica(http_request& req) {
  if (cfg_.fleet.empty())
    return json_error(404, "not_in_a_fleet", "this supernode takes no replicas (no --fleet)");
  auto signature = req.headers.get(fleet_signature_header).value_or("");
  // A daemon holds the cluster token but not the fleet's key: it cannot
  // plant digests that a successor would hand to every peer.
  if (!same_secret(signature, sign_replica(cfg_.identity_secret, req.body)))
    return json_error(403, "bad_fleet_signature",
                      "the replica is not signed with this fleet's identity key");
  auto msg = proto::decode<proto::task_replica>(req.body);
  if (!msg) return json_error(400, "bad_request", msg.error.message, msg.error.field);
  if (auto why = proto::check_replica(*msg.value); !why.empty())
    return json_error(400, "bad_request", "invalid replica: " + why);
  // A recorded request replayed later would roll a task back to old digests.
  if (auto age = unix_now() - msg.value->sent_at; age > 120 || age < -120)
    return json_error(400, "stale_replica",
                      "the replica's sent_at is " + std::to_string(age) +
                          " s away from this supernode's clock; fleet clocks must agree within "
                          "2 min");
  proto::replica_receipt receipt{tasks_.store_replica(*msg.value)};
  return http_response::json(200, proto::encode(receipt));
}

void api::use_ticket_key(ticket_signer signer) {
  verifier_ = ticket_verifier::from_public_key(signer.public_key());
  signer_ = std::move(signer);
}

const std::string* api::held_ticket(task& t, const std::string& peer) const {
  auto it = t.tickets.find(peer);
  if (it == t.tickets.end() || it->second.text.empty() ||
      it->second.expires - unix_now() < cfg_.ticket_ttl.count() / 2)
    return nullptr;
  return &it->second.text;
}

asio::awaitable<std::string> api::issue_ticket(std::shared_ptr<task> t, std::string peer) {
  auto expires = unix_now() + cfg_.ticket_ttl.count();
  std::string text;
  if (!signing_.empty()) {
    // Made before the co_await, not inside its expression: GCC 12 destroys
    // temporaries with non-trivial members of a co_await expression twice.
    auto sign = [this, id = t->id, peer, expires] { return signer_->issue(id, peer, expires); };
    auto signed_there = offload(signing_[signed_++ % signing_.size()], std::move(sign));
    text = co_await std::move(signed_there);
  } else
    text = signer_->issue(t->id, peer, expires);
  auto& held = t->tickets[peer];
  held.expires = expires;
  held.text = text;
  co_return text;
}

scheduler::piece_outcome api::check_reported(const task& t, const std::string& peer,
                                             const proto::piece_result& res,
                                             std::vector<std::uint64_t>& rejected) {
  // Held only what hashed as the owner's digest says; an ok without a digest
  // is a second copy of a piece the peer already holds, or nothing.
  const bool held = t.swarm.holds(peer, res.piece);
  const std::string none;
  const auto& known = res.piece < t.digests.size() ? t.digests[res.piece] : none;
  auto outcome = scheduler::piece_outcome::ok;
  if (res.sha256.empty() || known.empty())
    outcome = held ? scheduler::piece_outcome::ok : scheduler::piece_outcome::error;
  else if (res.sha256 != known)
    outcome = scheduler::piece_outcome::bad_digest;  // its source sent what the origin did not
  // A second copy that failed leaves the first, held, one as it is.
  if (outcome != scheduler::piece_outcome::ok && !held &&
      std::find(rejected.begin(), rejected.end(), res.piece) == rejected.end())
    rejected.push_back(res.piece);
  return outcome;
}

void api::book(const task& t, const std::vector<scheduler::decision>& decisions, bool with_digests,
               proto::sync_response& out) {
  for (const auto& d : decisions) {
    auto range = piece_at(d.piece,
                          t.content_length >= 0 ? static_cast<std::uint64_t>(t.content_length)
                                                : (d.piece + 1) * t.piece_size,
                          t.piece_size);
    out.assignments.push_back({d.piece, range.offset, range.length,
                               with_digests ? t.digests[d.piece] : std::string(), d.source});
    (d.source == scheduler::supernode_source ? assignments_from_supernode_
                                             : assignments_from_peers_)
        .add();
  }
}

http_response api::leave(http_request& req, const std::string& task_id, const std::string& peer) {
  auto t = tasks_.find(task_id);
  if (!t) return json_error(404, "unknown_task", "no task " + task_id);
  if (!t->swarm.has_peer(peer)) return http_response{204, {}, {}, {}, {}};
  if (!t->key_matches(peer, presented_key(req))) return wrong_key(peer);
  t->swarm.leave(peer);
  t->peer_keys.erase(peer);
  t->tickets.erase(peer);
  return http_response{204, {}, {}, {}, {}};
}

http_response api::heartbeat(http_request& req, const std::string& host) {
  auto msg = proto::decode<proto::heartbeat_request>(req.body);
  if (!msg) return json_error(400, "bad_request", msg.error.message, msg.error.field);
  proto::heartbeat_response out;
  auto now = task::clock::now();
  if (!valid_peer_id(host))
    return json_error(400, "bad_request", "host ids are 1-128 characters of [A-Za-z0-9._:-]");
  // One host id, one daemon: while it is alive only the holder of its key
  // speaks for it (describes it, gets its jobs, reports on them).
  auto host_key = board_.claim(
      host, msg.value->host_key, [] { return random_hex(16); }, now, cfg_.peer_timeout);
  if (!host_key)
    return json_error(403, "host_taken",
                      "host " + host +
                          " is heartbeating with another key (host_key): is a second daemon "
                          "using this host id?",
                      "host_key");
  out.host_key = *host_key;
  board_.heard_from(host, msg.value->upload_addr, msg.value->idc, msg.value->location,
                    req.remote_address, now);
  const auto& keys = msg.value->peer_keys;
  for (const auto& id : msg.value->tasks) {
    auto t = tasks_.find(id);
    auto key = keys.find(id);
    // Only the peer itself keeps itself alive: a stranger's heartbeat would
    // keep a dead source in everyone's schedule.
    if (t && t->swarm.has_peer(host) && key != keys.end() && t->key_matches(host, key->second)) {
      t->swarm.touch(host, now);
    } else {
      out.unknown_tasks.push_back(id);
    }
  }
  out.jobs = jobs_.heartbeat(host, *msg.value);
  return http_response::json(200, proto::encode(out));
}

http_response api::create_job(http_request& req) {
  auto msg = proto::decode<proto::job_request>(req.body);
  if (!msg) return json_error(400, "bad_request", msg.error.message, msg.error.field);
  auto made = jobs_.create(std::move(*msg.value), req.remote_address);
  if (auto* refused = std::get_if<proto::error_info>(&made))
    return json_error(400, refused->code, refused->message, refused->field);
  return http_response::json(201, proto::encode(shown(std::get<proto::job_status>(made))));
}

proto::job_status api::shown(proto::job_status j) const {
  for (auto& [name, value] : j.request.headers)
    if (proto::is_credential_header(name, cfg_.credential_headers)) value = "(not shown)";
  return j;
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
  range_source src;
  src.fd = t->fd;
  if (t->content_length >= 0) src.length = static_cast<std::uint64_t>(t->content_length);
  src.extent = t->ready.size() * t->piece_size;
  src.whole_file_ready = t->phase == task_phase::done;
  src.holds = [&t](const piece_range& range) {
    std::uint64_t first = range.offset / t->piece_size;
    std::uint64_t last = (range.end() - 1) / t->piece_size;
    for (std::uint64_t i = first; i <= last; ++i)
      if (i >= t->ready.size() || !t->ready[i]) return false;
    return true;
  };
  auto resp = serve_range(req, src);
  if (!resp.file || req.method == "HEAD") return resp;
  // The scheduler hands out at most seed_slots supernode assignments; a
  // request outside them (a peer without an assignment, or not a peer at
  // all) must not add uploads beyond that.
  // Only registered peers of the task get its pieces: a peer proves itself
  // with its key (its own requests) or with a ticket this supernode issued.
  // Only the key lets it be taken at its word (tickets travel to other peers).
  std::string asker(req.headers.get("X-Damselfly-Peer").value_or(""));
  if (asker.empty() || !t->key_matches(asker, presented_key(req))) {
    auto check =
        verifier_->check(req.headers.get(ticket_header).value_or(""), task_id, asker, unix_now());
    if (check != ticket_check::ok)
      return json_error(403, "bad_ticket",
                        "pieces go to this task's peers only: " + std::string(describe(check)));
    asker.clear();
  }
  bool assigned = !asker.empty() && t->swarm.has_peer(asker) && t->swarm.in_flight_count(asker) > 0;
  if (!assigned && t->uploads_active >= cfg_.seed_slots) {
    auto busy = json_error(503, "busy", "all seed slots of this task are busy");
    busy.headers.set("Retry-After", "1");
    return busy;
  }
  // A peer of the parent-set protocol passes the piece on with the
  // supernode's signature of its digest, which its children check.
  if (req.headers.get(want_signed_digest_header) == "1" && t->content_length >= 0) {
    auto piece = resp.file->offset / t->piece_size;
    auto whole = piece_at(piece, static_cast<std::uint64_t>(t->content_length), t->piece_size);
    if (whole.offset == resp.file->offset && whole.length == resp.file->length &&
        piece < t->digests.size() && !t->digests[piece].empty())
      resp.headers.set(std::string(signed_digest_header),
                       signer_->sign_digest(t->id, t->version, piece, t->digests[piece]));
  }
  ++t->uploads_active;
  // The response holds the slot; destroying it, sent or not, gives it back.
  std::weak_ptr<task> weak = t;
  auto slot = std::shared_ptr<void>(nullptr, [weak](void*) {
    if (auto live = weak.lock()) --live->uploads_active;
  });
  // A peer that names itself and then drops the connection mid-piece is gone
  // (killed, or its host is): its assignments would hold seed slots until its
  // timeout, stalling everyone else. A live peer that merely lost a connection
  // is told unknown_peer at its next sync and registers again.
  resp.file->on_sent = [this, weak, slot, asker, want = resp.file->length](std::uint64_t n) {
    upload_bytes_.add(n);
    board_.supernode_sent(n, task::clock::now());
    auto live = weak.lock();
    if (live) live->served_bytes += n;
    if (n >= want || asker.empty() || !live) return;
    if (!live->swarm.has_peer(asker)) return;
    spdlog::info(
        "task {}: peer {} dropped a piece upload; releasing its "
        "assignments",
        live->id.substr(0, 12), asker);
    live->swarm.leave(asker);
    live->notify();
  };
  if (upload_limiter_) {
    resp.file->pace = make_pacer(upload_limiter_);
  }
  return resp;
}

}  // namespace damselfly::supernode
