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

/// Twice a second, for every task whose layout is settled and whose digests
/// changed since last time, POSTs a task_replica to the two supernodes after
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
  /// What was last sent of a task to a supernode.
  struct sent {
    std::uint64_t generation = 0;
    std::uint64_t ready = 0;  ///< pieces cached (each brings its digest)
    bool done = false;
    friend bool operator==(const sent&, const sent&) = default;
  };
  std::map<std::pair<std::string, std::size_t>, sent> sent_;
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
