// SPDX-License-Identifier: Apache-2.0
// task_cache: the daemon's task map, busy marks and LRU/quota/TTL/watermark eviction.
#include "task_cache.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <ctime>

#include "damselfly/dfget/exit_codes.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;

task_cache::task_cache(asio::any_io_executor ex, const daemon_config& cfg,
                       metrics_registry& metrics)
    : cfg_(cfg),
      store_(cfg.data_dir),
      download_ended_(ex),
      evictions_(metrics.counter("damselfly_daemon_cache_evictions_total",
                                 "Finished tasks removed from the data dir")),
      tasks_gauge_(metrics.gauge("damselfly_daemon_tasks", "Tasks held on disk")),
      ex_(std::move(ex)) {}

error_code task_cache::init() {
  if (auto ec = store_.init()) return ec;
  for (const auto& id : store_.list()) {
    auto tf = store_.open(id);
    if (tf) tasks_[id] = *tf;
    if (tf) drop_if_tampered(id, **tf);
  }
  tasks_gauge_.set(tasks_.size());
  return {};
}

std::shared_ptr<task_file> task_cache::find(const std::string& task_id) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return nullptr;
  auto tf = it->second;
  return drop_if_tampered(task_id, *tf) ? nullptr : tf;
}

bool task_cache::drop_if_tampered(const std::string& task_id, const task_file& tf) {
  if (!tf.tampered()) return false;
  // The bytes behind the client's name are the cache's: changed there, they
  // are no longer what was verified. The client's file stays; the cache's
  // name for it goes.
  spdlog::warn("task {}: its file, shared with a client's output, was written since; dropped",
               task_id.substr(0, 12));
  retire_key(task_id, tf.meta().peer_key);
  remove(task_id);
  return true;
}

void task_cache::retire_key(const std::string& task_id, std::string key) {
  if (key.empty()) return;
  if (retired_keys_.size() >= 4096) retired_keys_.erase(retired_keys_.begin());
  retired_keys_[task_id] = std::move(key);
}

result<std::shared_ptr<task_file>> task_cache::open(const std::string& task_id) {
  auto opened = store_.open(task_id);
  if (opened && drop_if_tampered(task_id, **opened)) opened = store_.open(task_id);
  if (!opened) return opened.error();
  if (auto key = retired_keys_.find(task_id); key != retired_keys_.end()) {
    if ((*opened)->meta().peer_key.empty())
      (*opened)->update([&](task_meta& m) { m.peer_key = key->second; });
    retired_keys_.erase(key);
  }
  tasks_[task_id] = *opened;
  tasks_gauge_.set(tasks_.size());
  return *opened;
}

void task_cache::remove(const std::string& task_id) {
  if (auto it = tasks_.find(task_id); it != tasks_.end())
    retire_key(task_id, it->second->meta().peer_key);
  // Its have streams end: their children look for the pieces elsewhere.
  if (auto n = news_.find(task_id); n != news_.end()) {
    n->second->gone = true;
    n->second->changed.notify();
    news_.erase(n);
  }
  tasks_.erase(task_id);
  store_.remove(task_id);
  tasks_gauge_.set(tasks_.size());
}

void task_cache::piece_added(const std::string& task_id, std::uint64_t piece,
                             std::string signed_digest) {
  auto n = news(task_id);
  n->arrivals.push_back(piece);
  if (!signed_digest.empty()) n->signed_digests[piece] = std::move(signed_digest);
  n->changed.notify();
}

std::shared_ptr<task_cache::task_news> task_cache::news(const std::string& task_id) {
  auto& n = news_[task_id];
  if (!n) n = std::make_shared<task_news>(ex_);
  return n;
}

std::string task_cache::signed_digest(const std::string& task_id, std::uint64_t piece) const {
  auto n = news_.find(task_id);
  if (n == news_.end()) return {};
  auto s = n->second->signed_digests.find(piece);
  return s == n->second->signed_digests.end() ? std::string() : s->second;
}

std::vector<std::string> task_cache::serving() {
  std::vector<std::string> out;
  for (const auto& [id, tf] : tasks_)
    if (!downloading_.contains(id) && !tf->tampered()) out.push_back(id);
  return out;
}

asio::awaitable<void> task_cache::begin_download(const std::string& task_id) {
  // One download per task at a time; later clients wait for it, then publish.
  while (downloading_.contains(task_id)) co_await download_ended_.wait();
  downloading_.insert(task_id);
}

void task_cache::end_download(const std::string& task_id) {
  downloading_.erase(task_id);
  download_ended_.notify();
}

void task_cache::upload_finished(const std::string& task_id) {
  auto it = uploads_.find(task_id);
  if (it != uploads_.end() && --it->second == 0) uploads_.erase(it);
}

std::vector<proto::cache_entry> task_cache::entries() const {
  std::vector<proto::cache_entry> out;
  for (const auto& [id, tf] : tasks_) {
    auto m = tf->meta();
    out.push_back({id, m.identity.url, store_.disk_usage(id), m.complete, m.last_used});
  }
  return out;
}

bool task_cache::should_evict(const proto::cache_entry& e, std::uint64_t usage,
                              std::uint64_t free_bytes, std::int64_t now) const {
  return (cfg_.cache_ttl.count() > 0 && now - e.last_used > cfg_.cache_ttl.count()) ||
         (cfg_.cache_quota > 0 && usage > cfg_.cache_quota) ||
         (cfg_.min_free > 0 && free_bytes < cfg_.min_free);
}

std::vector<proto::cache_entry> task_cache::collect_garbage(const std::string& only) {
  std::vector<proto::cache_entry> removed;
  auto all = entries();
  std::uint64_t usage = 0;
  for (const auto& e : all) usage += e.bytes;
  std::uint64_t free_bytes = cfg_.min_free ? store_.free_space() : 0;
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  // Least recently used first; never a task being downloaded or uploaded.
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a.last_used < b.last_used; });
  for (const auto& e : all) {
    bool busy = downloading_.contains(e.task_id) || uploads_.contains(e.task_id);
    if (busy || (!e.complete && only.empty())) continue;
    bool evict = only.empty() ? should_evict(e, usage, free_bytes, now) : e.task_id == only;
    if (!evict) continue;
    remove(e.task_id);
    usage -= std::min(usage, e.bytes);
    free_bytes += e.bytes;
    evictions_.add();
    removed.push_back(e);
    spdlog::info("cache: removed task {} ({} bytes, {})", e.task_id.substr(0, 12), e.bytes, e.url);
  }
  return removed;
}

proto::local_event task_cache::command(const proto::local_request& req) {
  proto::local_event e;
  e.event = proto::local_event_kind::done;
  auto refuse = [&](const char* code, int exit_code, std::string message) {
    e.event = proto::local_event_kind::error;
    e.code = code;
    e.exit_code = exit_code;
    e.message = std::move(message);
    return e;
  };
  switch (req.command) {
    case proto::local_command::cache_list:
      e.tasks = entries();
      break;
    case proto::local_command::cache_gc:
      e.tasks = collect_garbage();
      break;
    case proto::local_command::cache_rm:
      if (!tasks_.contains(req.task))
        return refuse("not_found", exit_usage, "no task " + req.task + " in the cache");
      e.tasks = collect_garbage(req.task);
      if (e.tasks.empty())
        return refuse("busy", exit_local_io,
                      "task " + req.task + " is being downloaded or uploaded; not removed");
      break;
    case proto::local_command::download:
      return refuse("bad_request", exit_usage, "a download is not a cache command");
  }
  for (const auto& t : e.tasks) e.bytes += t.bytes;
  return e;
}

void task_cache::save_all() {
  for (const auto& [id, tf] : tasks_) tf->save_meta();
}

}  // namespace damselfly::dfget
