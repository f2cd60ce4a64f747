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

job_manager::job_manager(const supernode_config& cfg, task_manager& tasks)
    : cfg_(cfg), tasks_(tasks), file_(cfg.data_dir / "jobs.json") {}

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
  if (req.scope != "supernode")
    return bad("scope", "this supernode runs jobs of scope 'supernode' only");
  auto task_id = tasks_.task_id_for(req.identity, req.headers);
  if (!task_id) return bad("url", "url cannot be normalized");
  proto::job_status j;
  j.id = new_job_id();
  j.request = std::move(req);
  j.created = static_cast<std::int64_t>(std::time(nullptr));
  j.task_id = *task_id;
  j.targets.push_back({supernode_host, proto::job_state::pending, 0, {}});
  spdlog::info("job {} from {}: preheat {} ({})", j.id, client, j.request.identity.url,
               j.request.scope);
  if (running() < cfg_.max_running_jobs) start(j);
  jobs_.push_back(j);
  save();
  return jobs_.back();
}

void job_manager::start(proto::job_status& j) {
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
  for (auto& j : jobs_)
    if (j.state == proto::job_state::running) changed |= follow(j);
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
