// SPDX-License-Identifier: Apache-2.0
// replicator: owner-to-successor replication of layouts and piece digests.
#include "replicator.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/digest.hpp"

namespace damselfly::supernode {

namespace asio = boost::asio;

namespace {

std::vector<host_port> parse_fleet(const std::vector<std::string>& names) {
  std::vector<host_port> out;
  for (const auto& n : names) {
    bool https = false;
    if (auto hp = proto::parse_supernode_address(n, https)) out.push_back(*hp);
  }
  return out;
}

}  // namespace

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string sign_replica(std::string_view identity_secret, std::string_view body) {
  std::string text = "damselfly-replica\n";
  text.append(body);
  return hmac_sha256_hex(identity_secret, text);
}

replicator::replicator(asio::any_io_executor ex, const supernode_config& cfg, task_manager& tasks,
                       metrics_registry& metrics)
    : ex_(std::move(ex)),
      cfg_(cfg),
      tasks_(tasks),
      fleet_(parse_fleet(cfg.fleet), std::chrono::seconds(10)),
      pushed_(metrics.counter("damselfly_supernode_replicas_sent_total",
                              "Replicas of this supernode's tasks sent to their next supernode")),
      failed_(metrics.counter("damselfly_supernode_replica_failures_total",
                              "Replicas that did not reach their next supernode")),
      owned_(metrics.gauge("damselfly_supernode_tasks_owned",
                           "Tasks this supernode owns by the fleet's hashing")),
      handovers_(metrics.counter("damselfly_supernode_handovers_total",
                                 "Replicas sent in the last round before a stop")),
      timer_(ex_) {}

replicator::~replicator() = default;

bool replicator::set_self(const std::string& self) {
  bool https = false;
  auto me = proto::parse_supernode_address(self, https);
  for (std::size_t i = 0; me && i < fleet_.size(); ++i)
    if (fleet_.at(i).to_string() == me->to_string()) self_ = i;
  return self_.has_value();
}

std::vector<std::size_t> replicator::targets(const std::string& task_id) const {
  auto now = proto::supernode_list::clock::now();
  auto order = fleet_.order_for(task_id, now);
  auto at = static_cast<std::size_t>(std::find(order.begin(), order.end(), *self_) - order.begin());
  std::vector<std::size_t> out;
  // A resting one is skipped (a dead peer costs a connect per round otherwise);
  // it gets the replica once its rest is over.
  for (std::size_t k = 1; k < order.size() && out.size() < 2; ++k)
    if (auto i = order[(at + k) % order.size()]; !fleet_.resting(i, now)) out.push_back(i);
  return out;
}

asio::awaitable<bool> replicator::owner_answers(std::string task_id) {
  if (!self_ || fleet_.empty()) co_return false;
  auto owner = fleet_.owner_of(task_id);
  if (owner == *self_) co_return false;
  // Its own connection: the replication rounds use the shared ones.
  http_client_options o;
  o.connect_timeout = std::chrono::seconds(2);
  o.io_timeout = std::chrono::seconds(2);
  o.tls = cfg_.fleet_tls;
  http_client probe(ex_, fleet_.at(owner).host, fleet_.at(owner).port, o);
  http_request get;
  get.method = "GET";
  get.target = "/healthz";
  auto resp = co_await probe.fetch(get, 1 << 12);
  co_return resp && resp->head.status == 200;
}

http_client& replicator::client_for(std::size_t index) {
  auto& c = clients_[index];
  if (!c) {
    http_client_options o;
    o.connect_timeout = std::chrono::seconds(2);
    o.io_timeout = std::chrono::seconds(5);
    o.tls = cfg_.fleet_tls;
    c = std::make_unique<http_client>(ex_, fleet_.at(index).host, fleet_.at(index).port, o);
  }
  return *c;
}

asio::awaitable<void> replicator::run() {
  if (!self_ || fleet_.size() < 2) co_return;
  running_ = true;
  struct ended {
    bool& running;
    ~ended() { running = false; }
  } guard{running_};
  while (!finishing_) {
    timer_.expires_after(cfg_.replicate_every);
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec && !finishing_) co_return;  // cancelled: the supernode is going down hard
    co_await push_changed();
  }
}

void replicator::finish() {
  finishing_ = true;
  timer_.cancel();
}

asio::awaitable<void> replicator::push_changed() {
  decltype(state_) still;
  std::size_t owned = 0;
  for (const auto& t : tasks_.all()) {
    auto found = state_.find(t->id);
    task_state st;
    if (found != state_.end()) {
      st = std::move(found->second);
    } else {
      st.owned = fleet_.owner_of(t->id) == *self_;
    }
    if (st.owned) ++owned;
    bool settled = (t->phase == task_phase::fetching || t->phase == task_phase::done) &&
                   t->content_length >= 0 && t->piece_count() >= 0;
    if (st.generation != t->generation) {
      st = task_state{t->generation, st.owned, {}, {}, {}};  // another version: all anew
    }
    // Digests arrive with pieces (a replica's all at once): the cached count
    // says when there is news, without walking every digest each round. The
    // count of pieces peers hold is news too: it tells a successor how long
    // to wait.
    news now{t->ready_count, t->phase == task_phase::done, t->swarm.held_total(),
             t->swarm.peer_count()};
    auto clock_now = std::chrono::steady_clock::now();
    bool due = settled && st.synced != now;
    // Peers' pieces change with every report: that count alone goes out once
    // a second, not every round for every task being downloaded.
    if (due && st.synced && now.only_held_since(*st.synced) && clock_now < st.held_due) due = false;
    // The last round before a stop tells every target, news or not.
    if (settled && finishing_) due = true;
    if (due) {
      st.held_due = clock_now + std::chrono::seconds(1);
      bool all = true;
      for (auto to : targets(t->id)) all = co_await push(*t, to, st.to[to], now) && all;
      if (all) st.synced = now;
    }
    still.emplace(t->id, std::move(st));
  }
  state_ = std::move(still);
  owned_.set(owned);
}

asio::awaitable<bool> replicator::push(const task& t, std::size_t to, delivery& d,
                                       const news& now) {
  if (d.had == now && !finishing_) co_return true;
  const auto n = t.digests.size();
  if (d.digests.size() != n) d = delivery{std::vector<bool>(n), 0, {}};
  // One run: from the first digest it lacks to the last, at most
  // max_replica_run of them, so a message stays small however big the file
  // (runs are short: digests come roughly in piece order).
  auto lacks = [&](std::size_t i) { return !d.digests[i] && !t.digests[i].empty(); };
  std::size_t lo = 0;
  while (lo < n && !lacks(lo)) ++lo;
  std::size_t hi = lo;
  for (std::size_t i = lo; i < n && i - lo < max_replica_run; ++i)
    if (lacks(i)) hi = i + 1;
  auto r = t.replica(lo, hi - lo);
  // Digests it has are not sent again.
  for (std::size_t k = 0; k < r.digests.size(); ++k)
    if (d.digests[lo + k]) r.digests[k].clear();
  r.sent_at = unix_now();
  r.stopping = finishing_;
  http_request post;
  post.method = "POST";
  post.target = "/api/v1/replicas";
  post.headers.set("Content-Type", "application/json");
  post.body = proto::encode(r);
  if (!cfg_.cluster_token.empty()) post.headers.set("Authorization", bearer(cfg_.cluster_token));
  post.headers.set(fleet_signature_header, sign_replica(cfg_.identity_secret, post.body));
  auto resp = co_await client_for(to).fetch(post, 1 << 16);
  // The task may have been reset while the request was out (another
  // version): its state starts over in the next round.
  if (t.digests.size() != n) co_return false;
  auto receipt = resp && resp->head.status == 200
                     ? proto::decode<proto::replica_receipt>(resp->body)
                     : proto::decoded<proto::replica_receipt>{};
  if (!receipt) {
    failed_.add();
    if (!resp) {
      clients_.erase(to);
      fleet_.failed(to, proto::supernode_list::clock::now());  // the next one gets it
    }
    spdlog::debug("task {}: replica to {} failed: {}", t.id.substr(0, 12),
                  fleet_.at(to).to_string(),
                  resp ? std::to_string(resp->head.status) : resp.error().message());
    co_return false;  // sent again next round
  }
  fleet_.succeeded(to);
  pushed_.add();
  if (finishing_) handovers_.add();
  for (std::size_t k = 0; k < r.digests.size(); ++k)
    if (!r.digests[k].empty()) {
      d.digests[lo + k] = true;
      ++d.count;
    }
  if (receipt.value->known < d.count) {
    // It lost digests it had (restarted before writing them): all again.
    d = delivery{std::vector<bool>(n), 0, {}};
    co_return false;
  }
  bool rest = false;  // digests beyond this run's bound
  for (std::size_t i = hi; i < n && !rest; ++i) rest = lacks(i);
  if (!rest) d.had = now;
  co_return !rest;
}

}  // namespace damselfly::supernode
