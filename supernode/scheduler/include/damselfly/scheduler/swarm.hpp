// SPDX-License-Identifier: Apache-2.0
// Per-task scheduling: which piece each peer fetches next, and from whom.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "damselfly/proto/messages.hpp"

namespace damselfly::scheduler {

using clock = std::chrono::steady_clock;

/// The supernode's own name as a source in decisions: the protocol's.
inline const std::string supernode_source{proto::supernode_source};

struct swarm_options {
  /// An assignment not reported within this time returns to the pool.
  std::chrono::milliseconds assignment_timeout{60'000};
  /// A peer that has not synced for this long is dropped with its holdings.
  std::chrono::milliseconds peer_timeout{120'000};
  /// Concurrent assignments the supernode serves for this task.
  unsigned seed_slots = 8;
  /// A source address that this many hosts found sending pieces failing
  /// verification, each on a piece assigned to them from it, is avoided by everyone.
  unsigned bad_source_limit = 3;
  /// How long a peer is not sent to a source it reported unreachable or
  /// failing: a busy or restarting peer recovers, and a peer that avoided
  /// every holder of a piece the seed lacks (a successor's seed holds only
  /// what nobody held) would wait for it for ever. A source that sent it a
  /// piece failing verification it avoids for good.
  std::chrono::milliseconds avoid_for{30'000};
  /// When a peer lacks at most this many pieces and all of them are in flight,
  /// each may be requested once more from another source (endgame).
  unsigned endgame_pieces = 4;
  /// Pieces a peer may have in flight from the same other peer: spreads its
  /// fetches across sources and bounds what one bad source can spoil before
  /// its first failure is reported.
  unsigned per_source_in_flight = 2;
  /// Eligible holders a source choice compares at most, from a random one on:
  /// bounds a decision's cost in large swarms (below this size it is exact).
  unsigned source_candidates = 48;
  /// Holders a source choice looks at in all, busy ones included (from the
  /// same random start): most holders of a piece can be busy in a swarm of
  /// thousands, and without this bound a decision costs a walk of all of them.
  unsigned source_scan = 256;
};

/// Who a peer is, as far as choosing sources goes.
struct peer_info {
  std::string addr;  ///< "host:port" it serves pieces on; empty if it serves none
  std::string idc;
  std::string location;       ///< "a|b|c": more shared leading parts is closer
  unsigned upload_slots = 4;  ///< concurrent uploads it accepts for this task
  /// The network address it registered from: reports by peers of one host
  /// count as one witness. Empty: the peer is its own host.
  std::string host;
};

enum class piece_outcome { ok, bad_digest, unreachable, error };

/// One decision: the asking peer should fetch `piece` from `source` (a peer's
/// address, or supernode_source).
struct decision {
  std::uint64_t piece = 0;
  std::string source;
  friend bool operator==(const decision&, const decision&) = default;
};

/// Scheduling state of one task. Pure: no I/O; time and randomness come from
/// the caller, so tests and simulations replay exactly. Not thread-safe.
///
/// Rules: rarest piece first (fewest holders, random tie-break) among pieces
/// the asker lacks and has not in flight; the source is the holder closest to
/// the asker (same IDC, then longest shared location prefix), then the least
/// loaded, not one the asker saw fail within avoid_for (never one that sent it
/// a bad piece) nor one marked bad; the supernode
/// serves a piece only when no peer can, within its own slot cap. A piece is
/// assignable once its digest is known — the seed cached it, or a replica of
/// the owner's digests arrived (digest_known) — from whichever holder has it
/// at that moment.
class swarm {
 public:
  swarm(swarm_options opts = {}, std::uint64_t rng_seed = 1);

  /// The seed (the supernode's cache) holds `piece`; its digest is known.
  void seed_has(std::uint64_t piece);
  /// The digest of `piece` is known (from the owner's replica) though the
  /// seed does not hold it: peers holding it may serve it.
  void digest_known(std::uint64_t piece);
  /// The task's piece count, once known (enables the endgame).
  void set_piece_count(std::uint64_t count) noexcept { piece_count_ = count; }
  /// Adds or refreshes a peer; `held` lists what it already has (after a restart).
  void join(const std::string& peer, const peer_info& info, const std::vector<bool>& held,
            clock::time_point now);
  bool has_peer(const std::string& peer) const;
  /// Removes a peer: its holdings vanish and its uploads stop counting.
  void leave(const std::string& peer);
  /// Marks the peer alive without other news.
  void touch(const std::string& peer, clock::time_point now);
  /// Records an outcome of fetching `piece` from `source`.
  void report(const std::string& peer, std::uint64_t piece, piece_outcome outcome,
              const std::string& source, clock::time_point now);
  /// Up to `want` new assignments for `peer`.
  std::vector<decision> assign(const std::string& peer, std::uint32_t want, clock::time_point now);

  // The parent-set protocol: the supernode gives each peer a few others as
  // parents and injects pieces; the peers choose pieces among what their
  // parents hold (piece_picker) and pass on what arrives.

  /// The parents `peer` has not heard of yet: those that took it as a
  /// parent since (edges go both ways), then up to `want` new ones it was
  /// not given before: serving peers (not itself, not marked bad), as
  /// "host:port", each the one with fewer children of two drawn at random.
  /// Without the balance the first peers to register became parents of
  /// nearly everyone after them, and their uploads the swarm's bottleneck;
  /// with the fewest of all first, peers registering one after another took
  /// those just before them, and the swarm became a band in registration
  /// order with few edges between its ends.
  std::vector<std::string> parents_for(const std::string& peer, unsigned want);
  /// Up to `want` pieces for `peer` to fetch from the supernode: pieces it
  /// has not injected yet (or whose injection was lost: the fetch failed,
  /// timed out, or its peer left), lowest first, within the seed's slots.
  /// The seed sends each piece once: its upload is what every piece must
  /// cross, so a second copy from it delays every new piece behind it, while
  /// the parents pass on the first. Reported like assign()'s decisions.
  std::vector<decision> inject(const std::string& peer, std::uint32_t want, clock::time_point now);
  /// Parents `peer` was given so far.
  std::size_t parent_count(const std::string& peer) const;
  /// Whether `peer` serves pieces (registered with an upload address, and
  /// the newest registration at it).
  bool serves(const std::string& peer) const;
  /// Peers given `peer` as a parent (and still registered).
  unsigned child_count(const std::string& peer) const;
  /// Drops timed-out assignments and silent peers.
  void expire(clock::time_point now);

  std::uint64_t held_count(const std::string& peer) const;
  /// Whether `peer` holds `piece`.
  bool holds(const std::string& peer, std::uint64_t piece) const;
  std::uint64_t in_flight_count(const std::string& peer) const;
  /// Whether `piece` is assigned to `peer` and not yet reported.
  bool in_flight(const std::string& peer, std::uint64_t piece) const;
  /// Holders of `piece` among peers (the seed not counted).
  std::uint64_t availability(std::uint64_t piece) const;
  std::uint64_t seed_count() const noexcept { return seed_count_; }
  unsigned seed_load() const noexcept { return seed_load_; }
  unsigned upload_load(const std::string& addr) const;
  std::size_t peer_count() const noexcept { return by_id_.size(); }
  /// Pieces held by peers, counted once per holder (the sum of availability).
  std::uint64_t held_total() const noexcept { return held_total_; }
  bool is_bad(const std::string& addr) const;
  /// True when no peer still lacks a piece of a task of `count` pieces (nobody is downloading).
  bool nobody_downloading(std::uint64_t count) const;

  /// Aborts the process if internal counts disagree (a bug).
  void check_invariants() const;

 private:
  static constexpr int seed_index = -1;
  struct flight {
    int source;  ///< peer index or seed_index
    clock::time_point at;
  };
  struct peer_state {
    std::string id;
    peer_info info;
    int idc_id = -1;  ///< interned idc; -1 when it has none
    /// Interned location prefixes ("a", "a|b", "a|b|c", ...); -1 past the end.
    std::array<int, 4> location_ids{-1, -1, -1, -1};
    bool active = false;
    std::vector<bool> held;
    std::uint64_t held_count = 0;
    std::map<std::uint64_t, std::vector<flight>> in_flight;
    int addr_id = -1;      ///< interned upload address; -1 when it serves none
    bool serving = false;  ///< the newest registration at its address: a source
    std::string witness;   ///< who its reports come from: its host, or its id
    /// Interned addresses of sources that failed it, and until when they are avoided.
    std::unordered_map<int, clock::time_point> avoid;
    unsigned uploads = 0;  ///< assignments with this peer as source
    clock::time_point last_seen;
    /// Interned addresses of the parents it was given (parent-set protocol).
    std::unordered_set<int> parents;
    std::vector<int> parent_indices;  ///< the same parents, by peer index
    std::vector<int> told;            ///< parents it is yet to hear of (they chose it)
    unsigned children = 0;            ///< peers given this one as a parent
  };

  bool holds(const peer_state& p, std::uint64_t piece) const {
    return piece < p.held.size() && p.held[piece];
  }
  void ensure_piece(std::uint64_t piece);
  void add_holding(int index, std::uint64_t piece);
  unsigned distance(const peer_state& a, const peer_state& b) const;
  void drop_flight(const flight& f);
  void remove_peer(int index);
  /// `p` now fetches `piece` from `src` (a peer index or the seed): the
  /// counts, and the decision in `out`.
  void start_flight(peer_state& p, std::uint64_t piece, int src, clock::time_point now,
                    std::vector<decision>& out);
  int pick_source(int asker, std::uint64_t piece, int exclude_source,
                  const std::unordered_map<int, unsigned>& from_source, bool seed_copies_ok,
                  clock::time_point now);
  int source_index(const std::string& source) const;
  std::uint64_t piece_limit() const;

  swarm_options opts_;
  std::mt19937_64 rng_;
  std::vector<bool> seed_;
  std::vector<bool> known_;  ///< digest known: seeded, or from a replica
  /// Parent sets: sent by the seed (or on its way) to a peer that has not
  /// lost it: not to be injected again.
  std::vector<bool> injected_;
  std::uint64_t seed_count_ = 0;
  std::uint64_t piece_count_ = 0;  ///< 0 while unknown
  unsigned seed_load_ = 0;
  std::vector<std::uint32_t> avail_;       ///< holders per piece among active peers
  std::vector<std::uint32_t> fetching_;    ///< peers with the piece in flight, per piece
  std::vector<std::vector<int>> holders_;  ///< peer indices per piece
  std::uint64_t held_total_ = 0;           ///< sum of active peers' held_count
  std::vector<peer_state> peers_;
  std::vector<int> free_;
  std::unordered_map<std::string, int> by_id_;
  std::unordered_map<std::string, int> by_addr_;
  std::unordered_map<std::string, int> interned_;  ///< idc, location prefix and address names
  /// Per source address: the hosts that got a bad piece from it on an assignment.
  std::unordered_map<std::string, std::unordered_set<std::string>> bad_digest_witnesses_;
  std::unordered_set<int> bad_addrs_;  ///< interned addresses with enough witnesses
  int intern(const std::string& name);
};

}  // namespace damselfly::scheduler
