// SPDX-License-Identifier: Apache-2.0
// A peer's own piece choice among its parents' pieces (the parent-set protocol under study).
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace damselfly::scheduler {

/// What one downloading peer decides for itself when the supernode hands it
/// a set of parents instead of deciding every piece: rarest first among what
/// its parents hold (random tie-break), each piece from a parent holding it
/// that can take a request, the one this peer has the fewest requests at.
/// Pure: no I/O; the caller says what parents hold and whether they are free.
/// Not thread-safe. Used by the swarm simulator to weigh the protocol
/// (docs/benchmarks.md) before the engine speaks it.
class piece_picker {
 public:
  struct options {
    /// Requests this peer keeps at one parent at most. One: a parent's
    /// upload slots are shared by its ~16 neighbours, and two each made
    /// more busy answers than pieces at N=40 (emulated N=40 1.167-1.188x
    /// with two, 1.159-1.169x with one; the simulator 1.10x and 1.09x).
    unsigned per_parent = 1;
  };
  struct pick {
    std::uint64_t piece = 0;
    std::uint32_t parent = 0;
    friend bool operator==(const pick&, const pick&) = default;
  };

  piece_picker(std::uint64_t piece_count, options opts, std::uint64_t rng_seed);

  /// A new parent (its index is the next one: 0, 1, ...) holding `held`.
  std::uint32_t add_parent(const std::vector<bool>& held);
  /// Parent `parent` now holds `piece` as well.
  void parent_has(std::uint32_t parent, std::uint64_t piece);
  /// Parent `parent` is gone (or given up): what only it held is no
  /// parent's any more (an orphan), and news from it is ignored.
  void drop_parent(std::uint32_t parent);

  /// Up to `want` new requests; `free(parent)` says whether a parent takes
  /// one more now (its upload slots). Each pick is in flight until done().
  std::vector<pick> next(unsigned want, const std::function<bool(std::uint32_t)>& free);
  /// A piece this peer got from elsewhere (the supernode) is in flight.
  void fetching(std::uint64_t piece);
  /// The request for `piece` ended (at `parent`, or elsewhere when
  /// `parent` is no_parent): `ok` means the verified piece is held.
  void done(std::uint64_t piece, std::uint32_t parent, bool ok);

  static constexpr std::uint32_t no_parent = 0xffffffffu;

  bool has(std::uint64_t piece) const { return have_[piece]; }
  bool in_flight(std::uint64_t piece) const { return flying_[piece]; }
  std::uint64_t held_count() const noexcept { return held_; }
  bool complete() const noexcept { return held_ == have_.size(); }
  /// Whether parent `parent` said it holds `piece` (false for an unknown one).
  bool parent_holds(std::uint32_t parent, std::uint64_t piece) const {
    return parent < parent_held_.size() && piece < have_.size() && parent_held_[parent][piece];
  }
  /// How many of this peer's parents hold `piece`.
  std::uint32_t availability(std::uint64_t piece) const { return avail_[piece]; }
  /// Pieces this peer lacks, has not in flight and no parent holds: what
  /// only the supernode (or new parents) can give it.
  std::uint64_t orphans() const noexcept { return orphans_; }
  /// Aborts if the counts disagree with the parents' bitmaps (a bug).
  void check_invariants() const;

 private:
  options opts_;
  std::mt19937_64 rng_;
  std::vector<bool> have_, flying_;
  std::uint64_t held_ = 0;
  std::vector<std::uint32_t> avail_;            ///< parents holding each piece
  std::uint64_t orphans_;                       ///< lacked, not in flight, held by no parent
  std::vector<std::vector<bool>> parent_held_;  ///< per parent
  std::vector<bool> dropped_;                   ///< per parent
  std::vector<unsigned> asked_;                 ///< this peer's requests per parent
};

}  // namespace damselfly::scheduler
