// SPDX-License-Identifier: Apache-2.0
// The dfget side of the supernode protocol: one owner for every request to a supernode.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "damselfly/common/http_client.hpp"
#include "damselfly/dfget/downloader.hpp"
#include "damselfly/proto/messages.hpp"
#include "damselfly/proto/supernode_list.hpp"

namespace damselfly::dfget {

/// The header that proves a request comes from the peer it names.
inline constexpr const char* peer_key_header = "X-Damselfly-Peer-Key";

/// How a call to a supernode went.
enum class supernode_outcome {
  ok,
  unreachable,  ///< no answer (connect, I/O, timeout): worth trying again or elsewhere
  refused,      ///< a non-2xx answer: `status` and `error` say why
  invalid,      ///< a 2xx answer that is not the message expected
};

/// The answer of one call: the message, or why there is none.
template <class T>
struct supernode_answer {
  supernode_outcome outcome = supernode_outcome::unreachable;
  std::optional<T> value;
  unsigned status = 0;      ///< the HTTP status when one arrived
  proto::error_info error;  ///< refused: the supernode's error body (or the start of its text)
  std::string message;      ///< unreachable/invalid: one line for a human
  error_code transport;     ///< unreachable: why (connection refused, timeout, ...)
  explicit operator bool() const noexcept { return outcome == supernode_outcome::ok; }
};

/// Builds every request to the supernodes (paths, bodies, headers) and picks
/// which supernode to ask through a proto::supernode_list. Registration goes
/// to the task's owner by rendezvous hashing (the next in the task's order
/// when the owner does not answer) and binds the client to the supernode
/// that answered; sync and leave go there. Heartbeats go to each supernode
/// with the tasks it owns. Runs on one executor; calls are sequential per
/// client object.
class supernode_client {
 public:
  /// `token`: the cluster token sent with every request (empty: none).
  supernode_client(boost::asio::any_io_executor ex, std::vector<host_port> supernodes,
                   http_client_options opts, std::string token = {});
  ~supernode_client();
  supernode_client(const supernode_client&) = delete;
  supernode_client& operator=(const supernode_client&) = delete;

  bool empty() const noexcept { return list_.empty(); }
  std::size_t size() const noexcept { return list_.size(); }
  /// The supernode registration last succeeded with, if any.
  std::optional<host_port> bound() const;
  /// The bound supernode stopped answering: it rests (goes last in every
  /// task's order for a while) and the next registration goes to the next
  /// supernode in the task's order. Whether another supernode is left to try.
  bool give_up_bound(const error_code& why = {});

  /// Whether the bound supernode is no longer the first of `key`'s order
  /// (its owner answers again after a failover): the download should go back.
  bool bound_is_stale(const std::string& key) const { return bound_ && *bound_ != owner_now(key); }
  /// Forgets the binding without blaming the supernode.
  void unbind() noexcept { bound_.reset(); }
  /// The index of the supernode to tell about `task_id` now: its owner, or
  /// the next in its order while the owner rests.
  std::size_t owner_now(const std::string& task_id) const;
  /// Whether supernode `index` failed lately (it is asked again after a rest).
  bool resting(std::size_t index) const {
    return list_.resting(index, proto::supernode_list::clock::now());
  }
  /// "HOST:PORT" of supernode `index`.
  std::string name(std::size_t index) const { return list_.at(index).to_string(); }

  /// POST /api/v1/tasks to each supernode in the list's order until one
  /// answers. `peer_key`: the peer's key from an earlier registration, if any
  /// (a peer id still registered is taken again only with its key).
  boost::asio::awaitable<supernode_answer<proto::task_info>> register_task(
      const proto::register_request& r, const std::string& peer_key = {});
  /// POST /api/v1/tasks/{task}/peers/{peer}/sync at the bound supernode, as
  /// the peer whose key is `peer_key`.
  boost::asio::awaitable<supernode_answer<proto::sync_response>> sync(const std::string& task_id,
                                                                      const std::string& peer_id,
                                                                      const proto::sync_request& s,
                                                                      const std::string& peer_key);
  /// DELETE /api/v1/tasks/{task}/peers/{peer} at the bound supernode; best effort.
  boost::asio::awaitable<void> leave(const std::string& task_id, const std::string& peer_id,
                                     const std::string& peer_key);
  /// GET /healthz at supernode `index`: whether it answers. One that does
  /// not rests, like after any failed call.
  boost::asio::awaitable<bool> answers(std::size_t index);
  /// POST /api/v1/hosts/{host}/heartbeat at supernode `index`.
  boost::asio::awaitable<supernode_answer<proto::heartbeat_response>> heartbeat(
      std::size_t index, const std::string& host_id, const proto::heartbeat_request& hb);

 private:
  template <class T>
  boost::asio::awaitable<supernode_answer<T>> call(std::size_t index, const http_request& req,
                                                   std::size_t max_body);
  /// A connection to supernode `index` no call is using, or a new one:
  /// calls may run at once (a long-polled sync and a report beside it), each
  /// on its own. They stay owned here (a cancelled call may leave work of
  /// its client pending): the list grows to the most calls run at once.
  struct pooled {
    std::unique_ptr<http_client> client;
    bool busy = false;
  };
  pooled& client_for(std::size_t index);

  boost::asio::any_io_executor ex_;
  proto::supernode_list list_;
  http_client_options opts_;
  std::map<std::size_t, std::vector<std::unique_ptr<pooled>>> clients_;
  std::optional<std::size_t> bound_;
  /// The peer key each supernode issued, per task (placement key).
  std::map<std::pair<std::size_t, std::string>, std::string> keys_;
  std::string authorization_;  ///< "Bearer TOKEN", or empty
};

/// The key a registration is placed by: the task's public id (what every
/// client computes alike; a private task's keyed id is the supernode's).
std::string placement_key(const task_identity& identity);

/// Fills the registration fields that describe the registering peer.
void describe_peer(const peer_profile& peer, proto::register_request& r);

/// "supernode refused WHAT (STATUS): MESSAGE" for a refused answer.
template <class T>
std::string describe_refusal(const supernode_answer<T>& a, const char* what) {
  return std::string("supernode refused ") + what + " (" + std::to_string(a.status) +
         "): " + a.error.message;
}

}  // namespace damselfly::dfget
