// SPDX-License-Identifier: Apache-2.0
// Sends each task's layout and digests to the next supernode of the task's order.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
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

/// Twice a second, for every task whose layout is settled and whose digests
/// changed since last time, POSTs a task_replica to the supernode after this
/// one in the task's rendezvous order (the successor when this one owns it).
/// A successor that does not answer rests, and the replica goes to the next.
class replicator {
 public:
  replicator(boost::asio::any_io_executor ex, const supernode_config& cfg, task_manager& tasks,
             metrics_registry& metrics);
  ~replicator();

  /// Names this supernode in the fleet (known once it listens). False when
  /// the name is not in cfg.fleet: nothing is replicated.
  bool set_self(const std::string& self);
  /// Replicates until cancelled.
  boost::asio::awaitable<void> run();

 private:
  boost::asio::awaitable<void> push_changed();
  /// The index after this supernode in `task_id`'s order, if any.
  std::optional<std::size_t> next_after_self(const std::string& task_id) const;
  http_client& client_for(std::size_t index);

  boost::asio::any_io_executor ex_;
  const supernode_config& cfg_;
  task_manager& tasks_;
  proto::supernode_list fleet_;
  std::optional<std::size_t> self_;
  /// What was last sent for each task: (generation, digests known, done), and where.
  struct sent {
    std::uint64_t generation = 0;
    std::uint64_t known = 0;
    bool done = false;
    std::size_t to = 0;
  };
  std::map<std::string, sent> sent_;
  std::map<std::size_t, std::unique_ptr<http_client>> clients_;
  metric_value& pushed_;
  metric_value& failed_;
};

}  // namespace damselfly::supernode
