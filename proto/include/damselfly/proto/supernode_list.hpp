// SPDX-License-Identifier: Apache-2.0
// Which supernode a client asks next: a pure list with failover and recovery, no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "damselfly/common/http_message.hpp"

namespace damselfly::proto {

/// A supernode as users name it: "HOST:PORT", or "https://HOST:PORT" for
/// one serving TLS ("http://" is accepted too). Sets `https` accordingly.
std::optional<host_port> parse_supernode_address(std::string_view text, bool& https);

/// The supernodes a client knows, in the order it was given them, and the
/// choice of the next one to ask. Like libtorrent's tracker list it only
/// decides; the caller does the I/O and reports how each try went.
///
/// Policy: the supernode that answered last is asked first (it holds the
/// client's tasks), then the others in the configured order; a supernode
/// that failed within `retry_after` goes to the back, so a dead one costs a
/// connect timeout at most once per `retry_after`. When every one failed
/// recently, all are still tried, oldest failure first.
class supernode_list {
 public:
  using clock = std::chrono::steady_clock;

  explicit supernode_list(std::vector<host_port> supernodes,
                          std::chrono::milliseconds retry_after = std::chrono::seconds(10));

  bool empty() const noexcept { return nodes_.empty(); }
  std::size_t size() const noexcept { return nodes_.size(); }
  const host_port& at(std::size_t index) const { return nodes_.at(index).where; }

  /// Indexes in the order to try now.
  std::vector<std::size_t> order(clock::time_point now) const;
  /// The supernode to ask first now (order(now).front()); the list must not be empty.
  std::size_t first(clock::time_point now) const;
  /// The supernode that answered last, if any did.
  std::optional<std::size_t> current() const noexcept { return current_; }

  void succeeded(std::size_t index);
  void failed(std::size_t index, clock::time_point now);

  /// Checks the list's own consistency; throws std::logic_error (a bug) if broken.
  void check_invariants() const;

 private:
  struct node {
    host_port where;
    std::optional<clock::time_point> failed_at;
  };
  std::vector<node> nodes_;
  std::chrono::milliseconds retry_after_;
  std::optional<std::size_t> current_;
};

}  // namespace damselfly::proto
