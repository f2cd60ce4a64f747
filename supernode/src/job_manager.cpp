// SPDX-License-Identifier: Apache-2.0
// job_manager: checking, starting, following and keeping preheat jobs.
#include "job_manager.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <random>

#include "damselfly/common/digest.hpp"
#include "damselfly/common/file_io.hpp"
#include "damselfly/common/hex.hpp"
#include "damselfly/common/url.hpp"
#include "damselfly/proto/checks.hpp"

namespace damselfly::supernode {

namespace {

constexpr const char* supernode_host = "supernode";

std::string new_job_id() {
  std::random_device rd;
  std::string raw(8, '\0');
  for (auto& c : raw) c = static_cast<char>(rd());
  return to_hex(raw.data(), raw.size());
}

proto::error_info bad(std::string field, std::string message) {
  return proto::error_info{"bad_request", std::move(message), std::move(field), 0};
}

bool finished(proto::job_state s) {
  return s == proto::job_state::done || s == proto::job_state::failed ||
         s == proto::job_state::cancelled;
}

}  // namespace

job_manager::job_manager(const supernode_config& cfg, task_manager& tasks, const host_board& board)
    : cfg_(cfg), tasks_(tasks), file_(cfg.data_dir / "jobs.json"), board_(board) {}

error_code job_manager::init() {
  std::error_code exists_ec;
  if (!std::filesystem::exists(file_, exists_ec)) return {};
  auto text = read_small_file(file_, 64u << 20);
  if (!text) return text.error();
  auto kept = proto::decode<proto::job_list>(*text);
  if (!kept) {
    // Not worth refusing to start over: the jobs are lost, and said so.
    spdlog::warn("{}: unreadable ({}); starting without jobs", file_.string(), kept.error.message);
    return {};
  }
  jobs_ = std::move(kept.value->jobs);
  std::reverse(jobs_.begin(), jobs_.end());  // stored newest first
  std::size_t resumed = 0;
  for (auto& j : jobs_) {
    if (finished(j.state)) continue;
    j.state = proto::job_state::pending;  // started again by the next tick()
    ++resumed;
  }
  spdlog::info("jobs: {} kept, {} to run again", jobs_.size(), resumed);
  return {};
}

std::variant<proto::job_status, proto::error_info> job_manager::create(proto::job_request req,
                                                                       const std::string& client) {
  auto url = http_url::parse(req.identity.url);
  if (!url) return bad("url", "url must be an absolute http(s) URL");
  if (auto why = proto::check_origin_headers(req.headers))
    return bad("headers." + why->name, "header '" + why->name + "' " + why->why);
  if (!req.identity.digest.empty() && !digest_spec::parse(req.identity.digest))
    return bad("digest", "digest must be sha256:HEX or md5:HEX");
  auto task_id = tasks_.task_id_for(req.identity, req.headers);
  if (!task_id) return bad("url", "url cannot be normalized");
  proto::job_status j;
  j.id = new_job_id();
  if (req.scope == "all_peers") {
    // Daemons do not keep what credentials fetched: nothing would stay.
    if (!proto::credential_material(req.headers, cfg_.credential_headers).empty())
      return bad("headers",
                 "an all_peers job cannot carry credentials: daemons keep no private "
                 "downloads");
    for (auto& host : choose_hosts(j.id, req))
      j.targets.push_back({std::move(host), proto::job_state::pending, 0, {}});
    if (j.targets.empty())
      return bad(req.idc.empty() && req.location.empty() && req.hosts.empty() ? "scope" : "idc",
                 "no live daemon matches the job");
  } else {
    j.targets.push_back({supernode_host, proto::job_state::pending, 0, {}});
  }
  j.request = std::move(req);
  j.created = static_cast<std::int64_t>(std::time(nullptr));
  j.task_id = *task_id;
  spdlog::info("job {} from {}: preheat {} ({})", j.id, client, j.request.identity.url,
               j.request.scope);
  if (running() < cfg_.max_running_jobs) start(j);
  jobs_.push_back(j);
  save();
  return jobs_.back();
}

void job_manager::start(proto::job_status& j) {
  if (j.request.scope == "all_peers") {
    // The daemons start it as their heartbeats come (heartbeat()).
    j.state = proto::job_state::running;
    return;
  }
  proto::register_request source;
  source.identity = j.request.identity;
  source.headers = j.request.headers;
  auto url = http_url::parse(j.request.identity.url);
  if (!url) {  // checked at creation; a stored job may still be damaged
    j.error = bad("url", "url must be an absolute http(s) URL");
    finish(j, proto::job_state::failed);
    return;
  }
  // As a registration would: a task already cached costs nothing more.
  tasks_.ensure(j.task_id, source, *url, "job " + j.id);
  j.state = proto::job_state::running;
  j.targets.front().state = proto::job_state::running;
  follow(j);
}

bool job_manager::follow(proto::job_status& j) {
  auto t = tasks_.find(j.task_id);
  auto& target = j.targets.front();
  auto before = std::make_tuple(target.state, target.bytes, j.content_length);
  if (!t) {
    // Forgotten after failing, or evicted: the job's own registration is gone.
    j.error = proto::error_info{"task_gone", "the task was removed before it completed", "", 0};
    target.error = j.error->message;
    target.state = proto::job_state::failed;
    finish(j, proto::job_state::failed);
    return true;
  }
  std::uint64_t held = 0;
  for (std::uint64_t i = 0; i < t->ready.size(); ++i)
    if (t->ready[i])
      held += std::min<std::uint64_t>(
          t->piece_size, static_cast<std::uint64_t>(std::max<std::int64_t>(t->content_length, 0)) -
                             i * t->piece_size);
  target.bytes = held;
  j.content_length = t->content_length;
  if (t->phase == task_phase::done) {
    target.state = proto::job_state::done;
    finish(j, proto::job_state::done);
  } else if (t->phase == task_phase::failed) {
    j.error = t->error.value_or(proto::error_info{"failed", "the origin fetch failed", "", 0});
    target.state = proto::job_state::failed;
    target.error = j.error->message;
    finish(j, proto::job_state::failed);
  }
  return before != std::make_tuple(target.state, target.bytes, j.content_length) ||
         finished(j.state);
}

void job_manager::finish(proto::job_status& j, proto::job_state state) {
  j.state = state;
  j.finished = static_cast<std::int64_t>(std::time(nullptr));
  spdlog::info("job {}: {}", j.id, proto::to_string(state));
}

std::optional<proto::job_status> job_manager::get(const std::string& id) const {
  for (const auto& j : jobs_)
    if (j.id == id) return j;
  return std::nullopt;
}

proto::job_list job_manager::list() const {
  proto::job_list out;
  out.jobs.assign(jobs_.rbegin(), jobs_.rend());
  return out;
}

std::optional<proto::job_status> job_manager::cancel(const std::string& id) {
  for (auto& j : jobs_) {
    if (j.id != id) continue;
    if (!finished(j.state)) {
      for (auto& t : j.targets)
        if (!finished(t.state)) t.state = proto::job_state::cancelled;
      finish(j, proto::job_state::cancelled);
      save();
    }
    return j;
  }
  return std::nullopt;
}

void job_manager::tick() {
  bool changed = false;
  for (auto& j : jobs_) {
    if (j.state != proto::job_state::running) continue;
    changed |= j.request.scope == "all_peers" ? settle(j) : follow(j);
  }
  for (auto& j : jobs_) {
    if (j.state != proto::job_state::pending || running() >= cfg_.max_running_jobs) continue;
    start(j);
    changed = true;
  }
  // The oldest finished jobs go first once more are kept than allowed.
  while (jobs_.size() > cfg_.max_kept_jobs) {
    auto old = std::find_if(jobs_.begin(), jobs_.end(),
                            [](const proto::job_status& j) { return finished(j.state); });
    if (old == jobs_.end()) break;
    jobs_.erase(old);
    changed = true;
  }
  if (changed) save();
}

bool job_manager::matches(const proto::job_request& req, const std::string& host,
                          const host_info& info) {
  if (!req.idc.empty() && info.idc != req.idc) return false;
  if (!req.location.empty() && info.location != req.location &&
      !info.location.starts_with(req.location + "|"))
    return false;
  if (!req.hosts.empty() &&
      std::find(req.hosts.begin(), req.hosts.end(), host) == req.hosts.end() &&
      std::find(req.hosts.begin(), req.hosts.end(), info.upload_addr) == req.hosts.end())
    return false;
  return true;
}

std::vector<std::string> job_manager::choose_hosts(const std::string& job_id,
                                                   const proto::job_request& req) const {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, std::string>> ranked;  // (hash of job and host, host)
  for (const auto& [host, info] : board_.hosts())
    if (now - info.last_seen <= cfg_.peer_timeout && matches(req, host, info))
      ranked.emplace_back(sha256_hex(job_id + "/" + host), host);
  // A percentage takes a spread of hosts that differs from job to job.
  std::sort(ranked.begin(), ranked.end());
  auto keep = (ranked.size() * req.percentage + 99) / 100;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < keep; ++i) out.push_back(ranked[i].second);
  return out;
}

std::vector<proto::job_order> job_manager::heartbeat(const std::string& host,
                                                     const proto::heartbeat_request& hb) {
  const auto* info = board_.find(host);
  if (!info) return {};
  bool changed = false;
  std::vector<proto::job_order> orders;
  for (auto& j : jobs_) {
    if (j.request.scope != "all_peers" || j.state != proto::job_state::running) continue;
    bool moved = false;  // a host of this job changed state: it may have ended
    if (auto order = host_turn(j, host, *info, hb, moved)) orders.push_back(std::move(*order));
    if (moved) {
      settle(j);
      changed = true;
    }
  }
  if (changed) save();
  return orders;
}

std::optional<proto::job_order> job_manager::host_turn(proto::job_status& j,
                                                       const std::string& host,
                                                       const host_info& info,
                                                       const proto::heartbeat_request& hb,
                                                       bool& moved) {
  auto mine = std::find_if(j.targets.begin(), j.targets.end(),
                           [&](const proto::job_target& t) { return t.host == host; });
  if (mine == j.targets.end()) {
    // A daemon that came later gets a running job it matches (a
    // percentage was drawn from the hosts there were).
    if (j.request.percentage != 100 || !matches(j.request, host, info)) return std::nullopt;
    j.targets.push_back({host, proto::job_state::pending, 0, {}});
    mine = std::prev(j.targets.end());
    moved = true;
  }
  auto report = std::find_if(hb.job_reports.begin(), hb.job_reports.end(),
                             [&](const proto::job_report& r) { return r.id == j.id; });
  if (report != hb.job_reports.end() && mine->state == proto::job_state::running) {
    bool ended = report->state == proto::job_state::failed ||
                 (report->state == proto::job_state::done && holds_file(j, host, hb));
    if (ended) {
      mine->state = report->state;
      mine->error = report->error;
      moved = true;
    }
    // Progress alone is not written to disk: a restart loses only bytes counts.
    mine->bytes = report->bytes;
  }
  if (mine->state == proto::job_state::pending) {
    auto starting = std::count_if(j.targets.begin(), j.targets.end(), [](const auto& t) {
      return t.state == proto::job_state::running;
    });
    if (static_cast<std::size_t>(starting) >= max_hosts_starting) return std::nullopt;
    mine->state = proto::job_state::running;
    moved = true;
  }
  // Listed until the host has reported the end: a lost answer costs nothing.
  if (mine->state != proto::job_state::running) return std::nullopt;
  return proto::job_order{j.id, j.request.identity, j.request.headers};
}

bool job_manager::holds_file(const proto::job_status& j, const std::string& host,
                             const proto::heartbeat_request& hb) const {
  auto t = tasks_.find(j.task_id);
  bool registered_here = t && t->swarm.has_peer(host);
  // In a fleet the host registered the task with the task's owner, which
  // may be another supernode: there is nothing here to check it against.
  if (!registered_here) return !cfg_.fleet.empty();
  // Only the host itself (its peer key for the task) says it is done, and
  // only once the swarm counts every piece with it: the pieces it reported
  // fetched on assignments, or held when it registered.
  auto key = hb.peer_keys.find(j.task_id);
  if (key == hb.peer_keys.end() || !t->key_matches(host, key->second)) return false;
  return t->piece_count() >= 0 &&
         t->swarm.held_count(host) == static_cast<std::uint64_t>(t->piece_count());
}

bool job_manager::settle(proto::job_status& j) {
  auto now = std::chrono::steady_clock::now();
  bool changed = false;
  if (auto t = tasks_.find(j.task_id); t && t->content_length != j.content_length) {
    j.content_length = t->content_length;
    changed = true;
  }
  std::size_t ended = 0, failed = 0;
  for (auto& t : j.targets) {
    const auto* h = board_.find(t.host);
    // A host that stopped heartbeating will not report: failed, said why.
    // (After a restart of this supernode the hosts are unknown until they
    // heartbeat again: not silent yet.)
    if (!finished(t.state) && h && now - h->last_seen > cfg_.peer_timeout) {
      t.state = proto::job_state::failed;
      t.error = "the host stopped sending heartbeats";
      changed = true;
    }
    ended += finished(t.state);
    if (t.state == proto::job_state::failed) {
      ++failed;
      if (!j.error) j.error = proto::error_info{"host_failed", t.host + ": " + t.error, "", 0};
    }
  }
  if (ended < j.targets.size()) return changed;
  finish(j, failed == 0 ? proto::job_state::done : proto::job_state::failed);
  return true;
}

std::size_t job_manager::running() const {
  return static_cast<std::size_t>(std::count_if(jobs_.begin(), jobs_.end(), [](const auto& j) {
    return j.state == proto::job_state::running;
  }));
}

void job_manager::save() const {
  if (auto ec = replace_file(file_, proto::encode(list()), 0600))
    spdlog::warn("cannot save {}: {}", file_.string(), ec.message());
}

}  // namespace damselfly::supernode
