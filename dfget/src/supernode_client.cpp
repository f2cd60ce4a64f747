// SPDX-License-Identifier: Apache-2.0
// supernode_client: requests, answers and the choice of supernode in one place.
#include "supernode_client.hpp"

#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/task_id.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <variant>

namespace damselfly::dfget {

namespace asio = boost::asio;

namespace {

http_request json_post(std::string target, std::string body) {
  http_request post;
  post.method = "POST";
  post.target = std::move(target);
  post.headers.set("Content-Type", "application/json");
  post.body = std::move(body);
  return post;
}

}  // namespace

std::string placement_key(const task_identity& identity) {
  auto id = make_task_id(identity);
  // An identity without an id is refused by every supernode alike; any key serves.
  return id ? *id : identity.url;
}

void describe_peer(const peer_profile& peer, proto::register_request& r) {
  r.peer_id = peer.peer_id;
  r.upload_addr = peer.upload_addr;
  r.idc = peer.idc;
  r.location = peer.location;
  r.upload_slots = peer.upload_slots;
}

supernode_client::supernode_client(asio::any_io_executor ex, std::vector<host_port> supernodes,
                                   http_client_options opts, std::string token)
    : ex_(std::move(ex)),
      list_(std::move(supernodes)),
      opts_(std::move(opts)),
      authorization_(token.empty() ? std::string() : bearer(token)) {}

supernode_client::~supernode_client() = default;

std::optional<host_port> supernode_client::bound() const {
  if (!bound_) return std::nullopt;
  return list_.at(*bound_);
}

namespace {

/// A refused connection: nothing listens there now (a restart, most often),
/// and asking again costs nothing: a short rest. Anything else the full one.
std::optional<std::chrono::milliseconds> rest_after(const error_code& why) {
  if (why == boost::asio::error::connection_refused) return std::chrono::seconds(2);
  return std::nullopt;
}

}  // namespace

bool supernode_client::give_up_bound(const error_code& why) {
  if (bound_) list_.failed(*bound_, proto::supernode_list::clock::now(), rest_after(why));
  bound_.reset();
  return list_.size() > 1;
}

std::size_t supernode_client::owner_now(const std::string& task_id) const {
  return list_.order_for(task_id, proto::supernode_list::clock::now()).front();
}

supernode_client::pooled& supernode_client::client_for(std::size_t index) {
  auto& list = clients_[index];
  for (auto& p : list)
    if (!p->busy) return *p;
  const auto& where = list_.at(index);
  auto& p = *list.emplace_back(std::make_unique<pooled>());
  p.client = std::make_unique<http_client>(ex_, where.host, where.port, opts_);
  return p;
}

template <class T>
asio::awaitable<supernode_answer<T>> supernode_client::call(std::size_t index,
                                                            const http_request& req,
                                                            std::size_t max_body) {
  supernode_answer<T> out;
  http_request sent = req;
  if (!authorization_.empty()) sent.headers.set("Authorization", authorization_);
  auto& pool = client_for(index);
  pool.busy = true;
  struct release {
    pooled& p;
    ~release() { p.busy = false; }
  } in_use{pool};
  auto resp = co_await pool.client->fetch(sent, max_body);
  if (!resp) {
    pool.client->close();  // the next call reconnects
    out.transport = resp.error();
    out.message = list_.at(index).to_string() + ": " + resp.error().message();
    co_return out;
  }
  out.status = resp->head.status;
  if (out.status < 200 || out.status >= 300) {
    out.outcome = supernode_outcome::refused;
    auto err = proto::decode<proto::error_response>(resp->body);
    if (err) {
      out.error = err.value->error;
    } else {
      out.error.message = resp->body.substr(0, 200);
    }
    co_return out;
  }
  if constexpr (std::is_same_v<T, std::monostate>) {
    out.outcome = supernode_outcome::ok;
    out.value.emplace();
  } else if (std::is_same_v<T, proto::sync_response> && out.status == 204) {
    // A sync answer with nothing new (to a peer that asked for compact ones).
    out.outcome = supernode_outcome::ok;
    out.value.emplace();
  } else {
    auto msg = proto::decode<T>(resp->body);
    if (!msg) {
      out.outcome = supernode_outcome::invalid;
      out.message = msg.error.message;
      co_return out;
    }
    out.outcome = supernode_outcome::ok;
    out.value = std::move(*msg.value);
  }
  co_return out;
}

asio::awaitable<supernode_answer<proto::task_info>> supernode_client::register_task(
    const proto::register_request& r, const std::string& peer_key) {
  const auto place = placement_key(r.identity);
  std::string errors;
  for (auto index : list_.order_for(place, proto::supernode_list::clock::now())) {
    // A key is a supernode's: one that registered this peer before gets the
    // key it issued (after a failover and back), others the caller's.
    auto post = json_post("/api/v1/tasks", proto::encode(r));
    auto known = keys_.find({index, place});
    const auto& key = known != keys_.end() ? known->second : peer_key;
    if (!key.empty()) post.headers.set(peer_key_header, key);
    auto answer = co_await call<proto::task_info>(index, post, 1 << 20);
    if (answer.outcome == supernode_outcome::unreachable) {
      list_.failed(index, proto::supernode_list::clock::now(), rest_after(answer.transport));
      errors += (errors.empty() ? "" : "; ") + answer.message;
      continue;
    }
    list_.succeeded(index);
    if (answer) {
      bound_ = index;
      keys_[{index, place}] = answer.value->peer_key;
    }
    co_return answer;
  }
  supernode_answer<proto::task_info> unreachable;
  unreachable.message = "cannot reach any supernode (" + errors + ")";
  co_return unreachable;
}

asio::awaitable<supernode_answer<proto::sync_response>> supernode_client::sync(
    const std::string& task_id, const std::string& peer_id, const proto::sync_request& s,
    const std::string& peer_key) {
  auto post =
      json_post("/api/v1/tasks/" + task_id + "/peers/" + peer_id + "/sync", proto::encode(s));
  post.headers.set(peer_key_header, peer_key);
  if (!bound_) {
    supernode_answer<proto::sync_response> none;
    none.message = "not registered with any supernode";
    co_return none;
  }
  auto answer = co_await call<proto::sync_response>(*bound_, post, 16 << 20);
  if (answer.outcome == supernode_outcome::unreachable)
    answer.message = "lost the supernode " + answer.message;
  co_return answer;
}

asio::awaitable<void> supernode_client::leave(const std::string& task_id,
                                              const std::string& peer_id,
                                              const std::string& peer_key) {
  if (!bound_) co_return;
  http_request del;
  del.method = "DELETE";
  del.target = "/api/v1/tasks/" + task_id + "/peers/" + peer_id;
  del.headers.set(peer_key_header, peer_key);
  // Best effort: the supernode also expires silent peers.
  co_await call<std::monostate>(*bound_, del, 1 << 16);
}

asio::awaitable<bool> supernode_client::answers(std::size_t index) {
  http_request get;
  get.method = "GET";
  get.target = "/healthz";
  auto answer = co_await call<std::monostate>(index, get, 1 << 12);
  if (answer.outcome == supernode_outcome::unreachable) {
    list_.failed(index, proto::supernode_list::clock::now(), rest_after(answer.transport));
    co_return false;
  }
  list_.succeeded(index);
  co_return true;
}

asio::awaitable<supernode_answer<proto::heartbeat_response>> supernode_client::heartbeat(
    std::size_t index, const std::string& host_id, const proto::heartbeat_request& hb) {
  auto post = json_post("/api/v1/hosts/" + host_id + "/heartbeat", proto::encode(hb));
  auto answer = co_await call<proto::heartbeat_response>(index, post, 1 << 20);
  if (answer.outcome == supernode_outcome::unreachable)
    list_.failed(index, proto::supernode_list::clock::now(), rest_after(answer.transport));
  else
    list_.succeeded(index);
  co_return answer;
}

}  // namespace damselfly::dfget
