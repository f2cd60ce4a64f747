// SPDX-License-Identifier: Apache-2.0
// Which supernode a client asks next: a pure list with failover and recovery, no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "damselfly/common/http_message.hpp"

namespace damselfly::proto {

/// A supernode as users name it: "HOST:PORT", or "https://HOST:PORT" for
/// one serving TLS ("http://" is accepted too). Sets `https` accordingly.
std::optional<host_port> parse_supernode_address(std::string_view text, bool& https);

/// Rendezvous (highest-random-weight) score of `node` ("HOST:PORT" as the
/// list names it) for `key` (a task id): the first 8 bytes, big-endian, of
/// SHA-256(key "\n" node). Every client computes the same scores, so all
/// agree on a task's owner (the highest) and its successors without talking
/// to each other; adding or removing a supernode moves only the tasks it
/// wins or held.
std::uint64_t rendezvous_score(std::string_view key, std::string_view node);

/// A host name that resolves to several addresses counts as that many
/// supernodes ("IP:PORT" each, the addresses sorted, so every client that
/// resolves alike lists alike); a name with one address, or none, and an IP
/// literal stay as given. `resolve` answers a name's addresses (the caller's
/// DNS lookup; pure here so it can be tested).
std::vector<host_port> expand_supernodes(
    const std::vector<host_port>& listed,
    const std::function<std::vector<std::string>(const std::string& host)>& resolve);

/// The supernodes a client knows, in the order it was given them, and the
/// choice of the next one to ask. Like libtorrent's tracker list it only
/// decides; the caller does the I/O and reports how each try went.
///
/// Policy for calls about a task (order_for): the supernodes by rendezvous
/// score for the task id, so a task has one owner fleet-wide and the next in
/// that order takes over when the owner fails. For calls about no task
/// (order): the supernode that answered last, then the others in the
/// configured order. Either way a supernode that failed within `retry_after`
/// goes to the back, so a dead one costs a connect timeout at most once per
/// `retry_after`; when every one failed recently, all are still tried,
/// oldest failure first.
class supernode_list {
 public:
  using clock = std::chrono::steady_clock;

  explicit supernode_list(std::vector<host_port> supernodes,
                          std::chrono::milliseconds retry_after = std::chrono::seconds(10));

  bool empty() const noexcept { return nodes_.empty(); }
  std::size_t size() const noexcept { return nodes_.size(); }
  const host_port& at(std::size_t index) const { return nodes_.at(index).where; }

  /// Indexes in the order to try now for a call about no task.
  std::vector<std::size_t> order(clock::time_point now) const;
  /// Indexes in the order to try now for task `key`: by rendezvous score,
  /// highest first, recently failed ones last.
  std::vector<std::size_t> order_for(std::string_view key, clock::time_point now) const;
  /// The task's owner: the highest score of all, failed or not.
  std::size_t owner_of(std::string_view key) const;
  /// Whether `index` failed within `retry_after` of `now`.
  bool resting(std::size_t index, clock::time_point now) const;
  /// The supernode to ask first now (order(now).front()); the list must not be empty.
  std::size_t first(clock::time_point now) const;
  /// The supernode that answered last, if any did.
  std::optional<std::size_t> current() const noexcept { return current_; }

  void succeeded(std::size_t index);
  /// `index` did not answer: it rests for `rest` (default: retry_after).
  /// A refused connection deserves a short rest (the process is restarting,
  /// and trying it costs nothing); a timeout the full one.
  void failed(std::size_t index, clock::time_point now,
              std::optional<std::chrono::milliseconds> rest = std::nullopt);

  /// Checks the list's own consistency; throws std::logic_error (a bug) if broken.
  void check_invariants() const;

 private:
  struct node {
    host_port where;
    std::optional<clock::time_point> failed_at;
    std::chrono::milliseconds rest{0};  ///< how long this failure rests it
  };
  /// Every index by score for `key`, highest first.
  std::vector<std::size_t> ranked_for(std::string_view key) const;
  /// Healthy ones in `ranked`'s order, then the resting ones, oldest failure first.
  std::vector<std::size_t> healthy_first(std::vector<std::size_t> ranked,
                                         clock::time_point now) const;

  std::vector<node> nodes_;
  std::chrono::milliseconds retry_after_;
  std::optional<std::size_t> current_;
};

}  // namespace damselfly::proto
