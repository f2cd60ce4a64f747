// SPDX-License-Identifier: Apache-2.0
// Sends each task's layout and digests to the next supernode of the task's order.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "damselfly/common/http_client.hpp"
#include "damselfly/common/metrics.hpp"
#include "damselfly/proto/supernode_list.hpp"
#include "damselfly/supernode/config.hpp"
#include "task_manager.hpp"

namespace damselfly::supernode {

/// The header a replica's HMAC travels in.
inline constexpr const char* fleet_signature_header = "X-Damselfly-Fleet-Signature";

/// HMAC-SHA256 under the fleet's identity key of what a replica request
/// carries; only supernodes hold the key, so daemons cannot forge digests.
std::string sign_replica(std::string_view identity_secret, std::string_view body);

/// Seconds since the epoch: replicas' sent_at and tickets' expiry.
std::int64_t unix_now();

/// Most digests a replica message carries (about 270 KB of JSON).
inline constexpr std::size_t max_replica_run = 4096;

/// Every cfg.replicate_every, for every task whose layout is settled and
/// whose digests changed since last time, POSTs the digests each target
/// lacks (a task_replica with one run of them) to the two supernodes after
/// this one in the task's rendezvous order, wrapping around (the owner sends
/// to its successor and the one after; a successor serving the task sends
/// to the third and back to the owner, which so finds the digests again
/// after a restart). A supernode that does not answer rests, and the replica
/// goes to the next.
class replicator {
 public:
  replicator(boost::asio::any_io_executor ex, const supernode_config& cfg, task_manager& tasks,
             metrics_registry& metrics);
  ~replicator();

  /// Names this supernode in the fleet (known once it listens). False when
  /// the name is not in cfg.fleet: nothing is replicated.
  bool set_self(const std::string& self);
  /// Replicates until cancelled, or until finish() and one last round.
  boost::asio::awaitable<void> run();
  /// The supernode is stopping: send what changed since the last round, then end.
  void finish();
  /// Whether the owner of `task_id` by the fleet's hashing answers
  /// (GET /healthz, 2 s); false when this supernode is the owner.
  boost::asio::awaitable<bool> owner_answers(std::string task_id);
  /// Whether run() has not ended yet.
  bool running() const noexcept { return running_; }

 private:
  boost::asio::awaitable<void> push_changed();
  /// The supernodes that get `task_id`'s replica now.
  std::vector<std::size_t> targets(const std::string& task_id) const;
  http_client& client_for(std::size_t index);

  boost::asio::any_io_executor ex_;
  const supernode_config& cfg_;
  task_manager& tasks_;
  proto::supernode_list fleet_;
  std::optional<std::size_t> self_;
  /// What a replica says besides digests, and how a task's digests changed:
  /// when it equals what a supernode had last, that one needs nothing.
  struct news {
    std::uint64_t ready = 0;  ///< pieces cached (each brings its digest)
    bool done = false;
    std::uint64_t held = 0;   ///< pieces peers hold: a successor waits for as many
    std::uint64_t peers = 0;  ///< peers registered: a successor waits for as many too
    /// Only the held count moved: worth a message at most once a second.
    bool only_held_since(const news& o) const { return ready == o.ready && done == o.done; }
    friend bool operator==(const news&, const news&) = default;
  };
  /// What one supernode holds of a task's replica, as far as this one knows.
  struct delivery {
    std::vector<bool> digests;  ///< per piece: its digest reached it
    std::uint64_t count = 0;    ///< how many did
    std::optional<news> had;
  };
  struct task_state {
    std::uint64_t generation = 0;
    bool owned = false;          ///< by the fleet's hashing (fixed for a fleet)
    std::optional<news> synced;  ///< every target had this
    std::chrono::steady_clock::time_point held_due{};  ///< next send for the held count alone
    std::map<std::size_t, delivery> to;
  };
  /// Sends `t`'s new digests (at most one bounded run) to supernode `to`.
  /// Whether `to` has all of them now.
  boost::asio::awaitable<bool> push(const task& t, std::size_t to, delivery& d, const news& now);
  std::map<std::string, task_state> state_;
  std::map<std::size_t, std::unique_ptr<http_client>> clients_;
  metric_value& pushed_;
  metric_value& failed_;
  metric_value& owned_;
  metric_value& handovers_;
  boost::asio::steady_timer timer_;
  bool finishing_ = false;
  bool running_ = false;
};

}  // namespace damselfly::supernode
