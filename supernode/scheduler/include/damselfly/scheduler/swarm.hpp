// SPDX-License-Identifier: Apache-2.0
// Per-task scheduling state and decisions: which piece each peer fetches next, and from whom.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace damselfly::scheduler {

using clock = std::chrono::steady_clock;

/// The supernode's own name as a source in decisions.
inline constexpr const char* supernode_source = "supernode";

struct swarm_options {
  /// An assignment not reported within this time returns to the pool.
  std::chrono::milliseconds assignment_timeout{60'000};
  /// A peer that has not synced for this long is dropped with its holdings.
  std::chrono::milliseconds peer_timeout{120'000};
};

enum class piece_outcome { ok, bad_digest, unreachable, error };

/// One decision: `peer` should fetch `piece` from `source`.
struct decision {
  std::uint64_t piece = 0;
  std::string source;
  friend bool operator==(const decision&, const decision&) = default;
};

/// Scheduling state of one task. Pure: no I/O, time passed in by the caller,
/// so tests replay scenarios exactly. Not thread-safe; the owner serializes calls.
class swarm {
 public:
  explicit swarm(swarm_options opts = {});

  /// The seed (the supernode's cache) now holds `piece`; it becomes assignable at once.
  void seed_has(std::uint64_t piece);
  /// Adds a peer (or refreshes it) holding nothing yet.
  void join(const std::string& peer, clock::time_point now);
  bool has_peer(const std::string& peer) const;
  /// Removes a peer and everything assigned to it.
  void leave(const std::string& peer);
  /// Records the outcome of an assignment; failures return the piece to the pool.
  void report(const std::string& peer, std::uint64_t piece, piece_outcome outcome,
              clock::time_point now);
  /// Up to `want` new assignments for `peer`, lowest piece first.
  std::vector<decision> assign(const std::string& peer, std::uint32_t want, clock::time_point now);
  /// Drops timed-out assignments and silent peers.
  void expire(clock::time_point now);

  std::uint64_t held_count(const std::string& peer) const;
  std::uint64_t in_flight_count(const std::string& peer) const;
  std::uint64_t seed_count() const noexcept { return seed_count_; }
  std::size_t peer_count() const noexcept { return peers_.size(); }

  /// Aborts the process if internal counts disagree (a bug); cheap enough for debug builds.
  void check_invariants() const;

 private:
  struct peer_state {
    std::vector<bool> held;
    std::uint64_t held_count = 0;
    std::map<std::uint64_t, clock::time_point> in_flight;  ///< piece -> assigned at
    clock::time_point last_seen;
  };

  swarm_options opts_;
  std::vector<bool> seed_;
  std::uint64_t seed_count_ = 0;
  std::unordered_map<std::string, peer_state> peers_;
};

}  // namespace damselfly::scheduler
