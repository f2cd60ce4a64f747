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

http_client& replicator::client_for(std::size_t index) {
  auto& c = clients_[index];
  if (!c) {
    http_client_options o;
    o.connect_timeout = std::chrono::seconds(2);
    o.io_timeout = std::chrono::seconds(5);
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
    timer_.expires_after(std::chrono::milliseconds(500));
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
  decltype(sent_) still;
  std::size_t owned = 0;
  for (const auto& t : tasks_.all()) {
    if (fleet_.owner_of(t->id) == *self_) ++owned;
    bool settled = (t->phase == task_phase::fetching || t->phase == task_phase::done) &&
                   t->content_length >= 0 && t->piece_count() >= 0;
    if (!settled) continue;
    // Digests arrive with pieces (a replica's all at once): the cached count
    // says when there is news, without walking every digest each round.
    sent now{t->generation, t->ready_count, t->phase == task_phase::done};
    std::optional<http_request> post;  // built once per task, for whichever target needs it
    for (auto to : targets(t->id)) {
      auto key = std::make_pair(t->id, to);
      if (auto before = sent_.find(key); before != sent_.end() && before->second == now) {
        still.emplace(key, now);
        continue;
      }
      if (!post) {
        auto r = t->replica();
        r.sent_at = unix_now();
        post.emplace();
        post->method = "POST";
        post->target = "/api/v1/replicas";
        post->headers.set("Content-Type", "application/json");
        post->body = proto::encode(r);
        if (!cfg_.cluster_token.empty())
          post->headers.set("Authorization", bearer(cfg_.cluster_token));
        post->headers.set(fleet_signature_header, sign_replica(cfg_.identity_secret, post->body));
      }
      auto resp = co_await client_for(to).fetch(*post, 1 << 16);
      if (!resp || resp->head.status != 204) {
        failed_.add();
        if (!resp) {
          clients_.erase(to);
          fleet_.failed(to, proto::supernode_list::clock::now());  // the next one gets it
        }
        spdlog::debug("task {}: replica to {} failed: {}", t->id.substr(0, 12),
                      fleet_.at(to).to_string(),
                      resp ? std::to_string(resp->head.status) : resp.error().message());
        continue;  // not recorded: sent again next time
      }
      fleet_.succeeded(to);
      pushed_.add();
      if (finishing_) handovers_.add();
      still.emplace(key, now);
    }
  }
  sent_ = std::move(still);
  owned_.set(owned);
}

}  // namespace damselfly::supernode
