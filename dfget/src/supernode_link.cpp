// SPDX-License-Identifier: Apache-2.0
// supernode_link: the heartbeat loop and re-announcing tasks a supernode forgot.
#include "supernode_link.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "damselfly/common/file_io.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;

namespace {

http_client_options heartbeat_client_options(const daemon_config& cfg) {
  http_client_options o;
  o.io_timeout = std::chrono::seconds(10);
  o.connect_timeout = std::chrono::seconds(5);
  o.tls = cfg.cluster_tls;
  return o;
}

}  // namespace

supernode_link::supernode_link(asio::any_io_executor ex, const daemon_config& cfg,
                               task_cache& tasks, const peer_profile& me)
    : ex_(ex),
      cfg_(cfg),
      tasks_(tasks),
      me_(me),
      client_(ex, cfg.supernodes, heartbeat_client_options(cfg), cfg.cluster_token),
      keys_file_(cfg.data_dir / "host_keys.json") {
  // A file this daemon wrote itself; anything unreadable is started afresh
  // (a supernode gives a new key once the host's silence has passed).
  if (auto text = read_small_file(keys_file_, 1 << 20)) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_object())
      for (const auto& [addr, key] : j.items())
        if (key.is_string()) host_keys_[addr] = key.get<std::string>();
  }
}

void supernode_link::remember_host_key(std::size_t index, const std::string& key) {
  auto addr = cfg_.supernodes.at(index).to_string();
  if (key.empty() || host_keys_[addr] == key) return;
  host_keys_[addr] = key;
  if (auto ec = replace_file(keys_file_, nlohmann::json(host_keys_).dump() + "\n", 0600))
    spdlog::warn("cannot keep the host keys in {}: {}", keys_file_.string(), ec.message());
}

asio::awaitable<void> supernode_link::run() {
  asio::steady_timer timer(ex_);
  for (;;) {
    co_await heartbeat_once();
    tasks_.collect_garbage();
    timer.expires_after(cfg_.heartbeat_interval);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> supernode_link::heartbeat_once() {
  // Each supernode hears about the tasks it owns now (the next in a task's
  // order while its owner rests). A supernode that does not answer rests, and
  // its tasks go to their next supernode in the same round: after a failover
  // the successor learns within one interval who holds what.
  std::vector<std::string> pending = tasks_.serving();
  std::vector<bool> asked(client_.size(), false);
  std::set<std::string> listed;  ///< jobs some supernode still lists for this host
  for (std::size_t pass = 0; pass < client_.size(); ++pass) {
    std::vector<std::vector<std::string>> owned(client_.size());
    for (auto& id : pending) owned[client_.owner_now(id)].push_back(std::move(id));
    pending.clear();
    for (std::size_t index = 0; index < owned.size(); ++index) {
      // Every supernode hears from this host once a round (a resting one
      // only after its rest); more often only when tasks move to it.
      if (owned[index].empty() && (asked[index] || client_.resting(index))) continue;
      asked[index] = true;
      proto::heartbeat_request hb;
      hb.upload_addr = me_.upload_addr;
      hb.idc = me_.idc;
      hb.location = me_.location;
      for (const auto& [id, report] : jobs_) hb.job_reports.push_back(report);
      if (auto k = host_keys_.find(cfg_.supernodes.at(index).to_string()); k != host_keys_.end())
        hb.host_key = k->second;
      hb.tasks = owned[index];
      for (const auto& id : hb.tasks)
        if (auto tf = tasks_.find(id)) hb.peer_keys[id] = tf->meta().peer_key;
      auto answer = co_await client_.heartbeat(index, me_.peer_id, hb);
      if (answer.outcome == supernode_outcome::unreachable) {
        for (auto& id : owned[index]) pending.push_back(std::move(id));
        continue;
      }
      if (!answer) {
        if (answer.error.code == "host_taken")
          spdlog::error("{}: {} (this daemon's heartbeats are refused)",
                        cfg_.supernodes.at(index).to_string(), answer.error.message);
        continue;
      }
      remember_host_key(index, answer.value->host_key);
      for (auto& order : answer.value->jobs) {
        listed.insert(order.id);
        if (jobs_.contains(order.id) || !run_job_) continue;
        jobs_[order.id] = proto::job_report{order.id, proto::job_state::running, 0, {}};
        run_job_(std::move(order));
      }
      for (const auto& id : answer.value->unknown_tasks) {
        auto tf = tasks_.find(id);
        if (tf && !tasks_.downloading(id)) co_await announce(tf);
      }
    }
    if (pending.empty()) break;
  }
  // An ended job no supernode lists any more was heard: its report can go.
  std::erase_if(jobs_, [&](const auto& j) {
    return j.second.state != proto::job_state::running && !listed.contains(j.first);
  });
}

void supernode_link::job_progress(proto::job_report report) {
  if (auto it = jobs_.find(report.id); it != jobs_.end()) it->second = std::move(report);
}

asio::awaitable<void> supernode_link::announce(const std::shared_ptr<task_file>& tf) {
  auto m = tf->meta();
  if (m.identity.url.empty()) co_return;
  proto::register_request r;
  r.identity = m.identity;
  describe_peer(me_, r);
  r.bitmap = proto::encode_bitmap(m.have);
  r.version = m.version;
  auto answer = co_await client_.register_task(r, m.peer_key);
  if (!answer) co_return;
  const auto& info = *answer.value;
  if (info.peer_key != m.peer_key || info.ticket_key != m.ticket_key) {
    tf->update([&](task_meta& meta) {
      meta.peer_key = info.peer_key;
      meta.ticket_key = info.ticket_key;
    });
    tf->save_meta(task_file::durability::deferred);
  }
  if (!m.version.empty() && !info.version.empty() && info.version != m.version) {
    // The source moved on: these pieces are no longer what peers ask for.
    spdlog::info("task {}: source changed; dropping the pieces held", m.task_id.substr(0, 12));
    tasks_.remove(m.task_id);
  }
}

}  // namespace damselfly::dfget
