// SPDX-License-Identifier: Apache-2.0
// replicator: owner-to-successor replication of layouts and piece digests.
#include "replicator.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
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

std::uint64_t known_digests(const task& t) {
  return static_cast<std::uint64_t>(
      std::count_if(t.digests.begin(), t.digests.end(), [](const auto& d) { return !d.empty(); }));
}

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

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
                              "Replicas that did not reach their next supernode")) {}

replicator::~replicator() = default;

bool replicator::set_self(const std::string& self) {
  bool https = false;
  auto me = proto::parse_supernode_address(self, https);
  for (std::size_t i = 0; me && i < fleet_.size(); ++i)
    if (fleet_.at(i).to_string() == me->to_string()) self_ = i;
  return self_.has_value();
}

std::optional<std::size_t> replicator::next_after_self(const std::string& task_id) const {
  auto order = fleet_.order_for(task_id, proto::supernode_list::clock::now());
  auto at = std::find(order.begin(), order.end(), *self_);
  if (at == order.end() || std::next(at) == order.end()) return std::nullopt;
  return *std::next(at);
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
  asio::steady_timer tick(ex_);
  for (;;) {
    tick.expires_after(std::chrono::milliseconds(500));
    co_await tick.async_wait(asio::use_awaitable);  // cancellation ends the loop
    co_await push_changed();
  }
}

asio::awaitable<void> replicator::push_changed() {
  std::map<std::string, sent> still;
  for (const auto& t : tasks_.all()) {
    bool settled = (t->phase == task_phase::fetching || t->phase == task_phase::done) &&
                   t->content_length >= 0 && t->piece_count() >= 0;
    if (!settled) continue;
    auto to = next_after_self(t->id);
    if (!to) continue;
    sent now{t->generation, known_digests(*t), t->phase == task_phase::done, *to};
    auto before = sent_.find(t->id);
    if (before != sent_.end() && before->second.generation == now.generation &&
        before->second.known == now.known && before->second.done == now.done &&
        before->second.to == now.to) {
      still.emplace(t->id, now);
      continue;
    }
    auto r = t->replica();
    r.sent_at = unix_seconds();
    http_request post;
    post.method = "POST";
    post.target = "/api/v1/replicas";
    post.headers.set("Content-Type", "application/json");
    post.body = proto::encode(r);
    if (!cfg_.cluster_token.empty()) post.headers.set("Authorization", bearer(cfg_.cluster_token));
    post.headers.set(fleet_signature_header, sign_replica(cfg_.identity_secret, post.body));
    auto resp = co_await client_for(*to).fetch(post, 1 << 16);
    if (!resp || resp->head.status != 204) {
      failed_.add();
      if (!resp) {
        clients_.erase(*to);
        fleet_.failed(*to, proto::supernode_list::clock::now());  // the next one gets it
      }
      spdlog::debug("task {}: replica to {} failed: {}", t->id.substr(0, 12),
                    fleet_.at(*to).to_string(),
                    resp ? std::to_string(resp->head.status) : resp.error().message());
      continue;  // not recorded: sent again next time
    }
    fleet_.succeeded(*to);
    pushed_.add();
    still.emplace(t->id, now);
  }
  sent_ = std::move(still);
}

}  // namespace damselfly::supernode
