// SPDX-License-Identifier: Apache-2.0
// Task lifecycle at the supernode.
#include "task_manager.hpp"

#include "damselfly/common/digest.hpp"
#include "damselfly/common/task_id.hpp"
#include "damselfly/proto/checks.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace damselfly::supernode {

namespace asio = boost::asio;

task_manager::task_manager(asio::any_io_executor ex, const supernode_config& cfg,
                           metrics_registry& metrics)
    : ex_(ex),
      cfg_(cfg),
      cache_(cfg.data_dir),
      fetcher_(ex, cfg, cache_, metrics),
      tasks_gauge_(metrics.gauge("damselfly_supernode_tasks", "Tasks known to the supernode")),
      evictions_(metrics.counter("damselfly_supernode_cache_evictions_total",
                                 "Cached files removed by quota, watermark or TTL")),
      fetches_running_gauge_(metrics.gauge("damselfly_supernode_origin_fetches",
                                           "Tasks fetching from their origin, by state",
                                           R"(state="running")")),
      fetches_queued_gauge_(metrics.gauge("damselfly_supernode_origin_fetches",
                                          "Tasks fetching from their origin, by state",
                                          R"(state="queued")")),
      replicas_gauge_(metrics.gauge("damselfly_supernode_replicas",
                                    "Replicas of other supernodes' tasks held here")),
      replica_digests_gauge_(metrics.gauge("damselfly_supernode_replica_digests",
                                           "Piece digests in the replicas held here")),
      takeovers_(metrics.counter("damselfly_supernode_takeovers_total",
                                 "Tasks taken over from a replica (their owner did not answer)")),
      fetches_(ex, "origin fetches") {}

std::optional<std::string> task_manager::task_id_for(
    const task_identity& identity, const std::map<std::string, std::string>& headers) const {
  auto id = make_task_id(identity);
  if (!id) return std::nullopt;
  // Content fetched with someone's credentials is theirs: it becomes a task
  // of its own that only the same credentials name (keyed, so the id cannot
  // be computed from the URL and a guessed credential offline).
  if (auto cred = proto::credential_material(headers, cfg_.credential_headers); !cred.empty())
    return private_task_id(*id, hmac_sha256_hex(cfg_.identity_secret, cred));
  return *id;
}

error_code task_manager::init() {
  if (auto ec = cache_.init()) return ec;
  for (auto& m : cache_.load_complete()) {
    auto url = http_url::parse(m.url);
    auto fd = cache_.open_data(m.task_id);
    if (!url || !fd) continue;
    proto::register_request src;
    src.identity.url = m.url;
    auto t = make_task(m.task_id, src, *url);
    t->set_layout(m.content_length, m.piece_size);
    for (std::uint64_t i = 0; i < m.piece_sha256.size(); ++i) t->piece_ready(i, m.piece_sha256[i]);
    t->etag = m.etag;
    t->last_modified = m.last_modified;
    t->version = m.version;
    t->file_sha256 = m.file_sha256;
    t->fd = *fd;
    t->phase = task_phase::done;
    t->validated_at = {};  // re-checked against the origin on first use
    if (t->file_sha256.empty()) fetcher_.finish_later(t);
    tasks_.emplace(m.task_id, std::move(t));
  }
  spdlog::info("cache: {} complete task(s) loaded from {}", tasks_.size(), cfg_.data_dir.string());
  // Our own files, checked again anyway: a damaged one is dropped.
  for (const auto& text : cache_.load_replicas()) {
    auto r = proto::decode<proto::task_replica>(text);
    if (r && proto::check_replica(*r.value).empty()) remember_replica(std::move(*r.value));
  }
  if (!replicas_.empty())
    spdlog::info("{} replica(s) of other supernodes' tasks loaded", replicas_.size());
  tasks_gauge_.set(tasks_.size());
  return {};
}

std::shared_ptr<task> task_manager::make_task(const std::string& id,
                                              const proto::register_request& req,
                                              const http_url& url) {
  scheduler::swarm_options o;
  o.seed_slots = cfg_.seed_slots;
  o.peer_timeout = cfg_.peer_timeout;
  o.assignment_timeout = cfg_.assignment_timeout;
  return std::make_shared<task>(ex_, id, req, url, o);
}

std::size_t task_manager::peer_count() const {
  std::size_t n = 0;
  for (const auto& [id, t] : tasks_) n += t->swarm.peer_count();
  return n;
}

void task_manager::start_fetch(const std::shared_ptr<task>& t) {
  if (fetching_ >= cfg_.max_origin_fetches) {
    t->queued = true;
    queued_.push_back(t);
    spdlog::info("task {} waits for an origin fetch slot ({} running, {} waiting)",
                 t->id.substr(0, 12), fetching_, queued_.size());
    update_fetch_gauges();
    return;
  }
  t->queued = false;
  ++fetching_;
  update_fetch_gauges();
  fetches_.spawn(run_fetch(t));
}

void task_manager::update_fetch_gauges() {
  fetches_running_gauge_.set(fetching_);
  fetches_queued_gauge_.set(queued_.size());
}

asio::awaitable<void> task_manager::run_fetch(std::shared_ptr<task> t) {
  // The slot is given back however the fetch ends, cancellation included.
  struct slot {
    task_manager& m;
    std::shared_ptr<task> t;
    ~slot() {
      t->fetch_running = false;
      --m.fetching_;
      if (!m.stopping_) m.start_queued();
      m.update_fetch_gauges();
    }
  } held{*this, t};
  t->fetch_running = true;
  co_await fetcher_.fetch(std::move(t));
}

void task_manager::start_queued() {
  while (fetching_ < cfg_.max_origin_fetches && !queued_.empty()) {
    auto t = queued_.front().lock();
    queued_.pop_front();
    // Forgotten, evicted or restarted meanwhile: that task no longer waits.
    if (!t || !t->queued || find(t->id) != t) continue;
    start_fetch(t);
  }
}

bool task_manager::would_start(const std::string& id) const {
  auto t = find(id);
  return !t || (t->phase == task_phase::failed &&
                task::clock::now() - t->failed_at >= cfg_.retry_failed_after);
}

bool task_manager::over_task_limit(const std::string& id, const std::string& client) const {
  if (!would_start(id)) return false;
  std::size_t mine = 0;
  for (const auto& [key, t] : tasks_)
    if (t->started_by == client && t->unfinished()) ++mine;
  return mine >= cfg_.max_tasks_per_address;
}

std::shared_ptr<task> task_manager::ensure(const std::string& id,
                                           const proto::register_request& req, const http_url& url,
                                           const std::string& client) {
  auto now = task::clock::now();
  auto it = tasks_.find(id);
  if (it == tasks_.end()) {
    auto t = make_task(id, req, url);
    t->started_by = client;
    tasks_.emplace(id, t);
    tasks_gauge_.set(tasks_.size());
    if (auto r = replicas_.find(id); r != replicas_.end()) {
      // This supernode is next in the task's order and its owner did not
      // answer the registering peer: take the task over with the owner's digests.
      t->adopt(r->second);
      takeovers_.add();
      spdlog::info("task {} taken over from its owner's replica ({} pieces, version {})",
                   id.substr(0, 12), t->piece_count(), t->version);
    } else {
      spdlog::info("task {} new: {}", id.substr(0, 12), url.text);
    }
    start_fetch(t);
    return t;
  }
  auto& t = it->second;
  t->last_used = now;
  if (t->phase == task_phase::failed && now - t->failed_at >= cfg_.retry_failed_after) {
    // The request may carry fixed headers (credentials); use the newest.
    // A replica that led here is not trusted again: the file moved on.
    if (t->from_replica) forget_replica(id);
    auto fresh = make_task(id, req, url);
    fresh->started_by = client;
    fresh->generation = t->generation + 1;
    t->reset(task_phase::failed);  // stops anything still running for the old one
    t->queued = false;
    t = fresh;
    spdlog::info("task {} retrying after failure", id.substr(0, 12));
    start_fetch(t);
  } else if (t->phase == task_phase::done && now - t->validated_at >= cfg_.recheck_interval) {
    t->phase = task_phase::validating;
    // A task loaded from the cache has no headers; a private one needs the
    // registrant's credentials (the same for everyone naming it) to re-check.
    fetches_.spawn(fetcher_.validate(t, req.headers));
  }
  return t;
}

std::shared_ptr<task> task_manager::find(const std::string& id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<task>> task_manager::all() const {
  std::vector<std::shared_ptr<task>> out;
  out.reserve(tasks_.size());
  for (const auto& [id, t] : tasks_) out.push_back(t);
  return out;
}

std::uint64_t task_manager::known_digests(const proto::task_replica& r) {
  return static_cast<std::uint64_t>(
      std::count_if(r.digests.begin(), r.digests.end(), [](const auto& d) { return !d.empty(); }));
}

std::uint64_t task_manager::store_replica(const proto::task_replica& r) {
  auto it = replicas_.find(r.task_id);
  bool same = it != replicas_.end() && it->second.content_length == r.content_length &&
              it->second.piece_size == r.piece_size && it->second.version == r.version &&
              it->second.etag == r.etag && it->second.last_modified == r.last_modified;
  if (!same) {
    proto::task_replica fresh = r;
    fresh.first = 0;
    fresh.digests.assign(
        r.piece_size ? piece_count(static_cast<std::uint64_t>(r.content_length), r.piece_size) : 0,
        std::string{});
    remember_replica(std::move(fresh));
    it = replicas_.find(r.task_id);
    if (it == replicas_.end()) return 0;
  }
  auto& kept = it->second;
  for (std::uint64_t k = 0; k < r.digests.size() && r.first + k < kept.digests.size(); ++k) {
    if (r.digests[k].empty()) continue;
    auto& slot = kept.digests[r.first + k];
    if (slot.empty()) ++replica_digests_;
    slot = r.digests[k];
  }
  replica_digests_gauge_.set(replica_digests_);
  kept.sent_at = r.sent_at;
  kept.held = r.held;
  kept.peers = r.peers;
  kept.stopping = r.stopping;
  if (!r.file_sha256.empty()) kept.file_sha256 = r.file_sha256;
  replicas_dirty_.insert(r.task_id);
  if (auto t = find(r.task_id);
      t && t->from_replica && t->phase == task_phase::fetching && t->describes(r))
    t->learn_digests(r);
  return known_digests(kept);
}

void task_manager::flush_replicas() {
  for (const auto& id : replicas_dirty_) {
    auto it = replicas_.find(id);
    if (it == replicas_.end()) continue;
    if (auto ec = cache_.save_replica(id, proto::encode(it->second)))
      spdlog::warn("task {}: cannot keep the replica on disk: {}", id.substr(0, 12), ec.message());
  }
  replicas_dirty_.clear();
}

void task_manager::forget_replica(const std::string& id) {
  replicas_dirty_.erase(id);
  if (auto it = replicas_.find(id); it != replicas_.end()) {
    replica_digests_ -= known_digests(it->second);
    replicas_.erase(it);
  }
  replica_digests_gauge_.set(replica_digests_);
  cache_.remove_replica(id);
  replicas_gauge_.set(replicas_.size());
}

void task_manager::remember_replica(proto::task_replica r) {
  auto id = r.task_id;
  if (auto old = replicas_.find(id); old != replicas_.end())
    replica_digests_ -= known_digests(old->second);
  replica_digests_ += known_digests(r);
  replica_digests_gauge_.set(replica_digests_);
  auto [it, fresh] = replicas_.insert_or_assign(id, std::move(r));
  if (fresh) replica_order_.push_back(id);
  while (replicas_.size() > cfg_.max_replicas && !replica_order_.empty()) {
    auto oldest = replica_order_.front();
    replica_order_.pop_front();
    if (oldest != id) forget_replica(oldest);
  }
  // The cap's queue may name replicas dropped meanwhile; keep it from growing past the map.
  if (replica_order_.size() > 2 * cfg_.max_replicas) {
    std::erase_if(replica_order_, [&](const auto& k) { return !replicas_.contains(k); });
  }
  replicas_gauge_.set(replicas_.size());
}

void task_manager::refill_replicated() {
  for (const auto& [id, t] : tasks_) {
    if (!t->from_replica || t->phase != task_phase::fetching || t->fetch_running || t->queued)
      continue;
    if (t->swarm.nobody_downloading(
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, t->piece_count()))))
      continue;
    // A piece neither the cache nor any peer holds, or one whose digest the
    // owner's replica lacked (peers may hold it, but nobody can check it).
    bool orphan = false;
    for (std::uint64_t i = 0; i < t->ready.size() && !orphan; ++i)
      orphan = !t->ready[i] && (t->digests[i].empty() || t->swarm.availability(i) == 0);
    if (orphan) start_fetch(t);
  }
}

void task_manager::tick() {
  auto now = task::clock::now();
  for (auto& entry : tasks_) {
    auto& t = *entry.second;
    t.expire(now);
    // Expired peers' keys go with them; their ids are free again.
    t.forget_departed();
  }
  forget_failed(now);
  refill_replicated();
  flush_replicas();
  collect_garbage();
}

void task_manager::forget_failed(task::clock::time_point now) {
  // A failed task keeps nothing worth keeping; left in the map, tasks that
  // anyone can create by registering URLs would only accumulate.
  std::erase_if(tasks_, [&](const auto& entry) {
    const auto& t = *entry.second;
    return t.phase == task_phase::failed && now - t.failed_at >= cfg_.forget_failed_after;
  });
  tasks_gauge_.set(tasks_.size());
}

std::size_t task_manager::collect_garbage() {
  if (cfg_.cache_quota == 0 && cfg_.min_free == 0 && cfg_.cache_ttl.count() == 0) return 0;
  struct candidate {
    std::string id;
    task::clock::time_point last_used;
    std::uint64_t bytes;
  };
  std::vector<candidate> done;
  std::uint64_t usage = 0;
  for (const auto& [id, t] : tasks_) {
    auto bytes = cache_.disk_usage(id);
    usage += bytes;
    bool idle = t->phase == task_phase::done && t->swarm.seed_load() == 0 &&
                t->swarm.nobody_downloading(
                    static_cast<std::uint64_t>(std::max<std::int64_t>(0, t->piece_count())));
    if (idle) done.push_back({id, t->last_used, bytes});
  }
  std::uint64_t free_bytes = cfg_.min_free ? cache_.free_space() : 0;
  std::sort(done.begin(), done.end(),
            [](const auto& a, const auto& b) { return a.last_used < b.last_used; });
  auto now = task::clock::now();
  std::size_t evicted = 0;
  for (const auto& c : done) {
    bool evict = (cfg_.cache_ttl.count() > 0 && now - c.last_used > cfg_.cache_ttl) ||
                 (cfg_.cache_quota > 0 && usage > cfg_.cache_quota) ||
                 (cfg_.min_free > 0 && free_bytes < cfg_.min_free);
    if (!evict) continue;
    auto it = tasks_.find(c.id);
    it->second->reset(task_phase::failed);  // anything still holding it stops
    it->second->queued = false;
    tasks_.erase(it);
    cache_.remove(c.id);
    usage -= std::min(usage, c.bytes);
    free_bytes += c.bytes;
    evictions_.add();
    ++evicted;
    spdlog::info("cache: evicted task {} ({} bytes)", c.id.substr(0, 12), c.bytes);
  }
  tasks_gauge_.set(tasks_.size());
  return evicted;
}

}  // namespace damselfly::supernode
