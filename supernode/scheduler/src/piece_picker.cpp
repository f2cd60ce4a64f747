// SPDX-License-Identifier: Apache-2.0
// Rarest-first piece choice among a peer's parents.
#include "damselfly/scheduler/piece_picker.hpp"

#include <algorithm>
#include <cstdlib>

namespace damselfly::scheduler {

piece_picker::piece_picker(std::uint64_t piece_count, options opts, std::uint64_t rng_seed)
    : opts_(opts),
      rng_(rng_seed),
      have_(piece_count, false),
      flying_(piece_count, false),
      avail_(piece_count, 0),
      orphans_(piece_count) {}

std::uint32_t piece_picker::add_parent(const std::vector<bool>& held) {
  auto index = static_cast<std::uint32_t>(parent_held_.size());
  auto& bits = parent_held_.emplace_back(have_.size(), false);
  for (std::uint64_t p = 0; p < held.size() && p < bits.size(); ++p)
    if (held[p]) {
      bits[p] = true;
      if (avail_[p]++ == 0 && !have_[p] && !flying_[p]) --orphans_;
    }
  asked_.push_back(0);
  dropped_.push_back(false);
  return index;
}

void piece_picker::drop_parent(std::uint32_t parent) {
  auto& bits = parent_held_.at(parent);
  dropped_[parent] = true;
  for (std::uint64_t p = 0; p < bits.size(); ++p) {
    if (!bits[p]) continue;
    bits[p] = false;
    if (--avail_[p] == 0 && !have_[p] && !flying_[p]) ++orphans_;
  }
}

void piece_picker::parent_has(std::uint32_t parent, std::uint64_t piece) {
  if (piece >= have_.size() || parent_held_.at(parent)[piece] || dropped_[parent]) return;
  parent_held_[parent][piece] = true;
  if (avail_[piece]++ == 0 && !have_[piece] && !flying_[piece]) --orphans_;
}

std::vector<piece_picker::pick> piece_picker::next(unsigned want,
                                                   const std::function<bool(std::uint32_t)>& free) {
  std::vector<pick> out;
  if (want == 0) return out;
  // Rarest first among the parents: key = holders, random tie-break.
  // The tie-break is a hash of the piece salted once per call: as random
  // as a draw per piece for this purpose, and a fraction of its cost.
  const auto salt = static_cast<std::uint32_t>(rng_());
  auto shuffled = [salt](std::uint64_t x) {
    return static_cast<std::uint32_t>((x + salt) * 0x9E3779B97F4A7C15ull >> 32);
  };
  std::vector<std::pair<std::uint64_t, std::uint64_t>> candidates;
  for (std::uint64_t p = 0; p < have_.size(); ++p)
    if (!have_[p] && !flying_[p] && avail_[p] > 0)
      candidates.emplace_back((static_cast<std::uint64_t>(avail_[p]) << 32) | shuffled(p), p);
  std::make_heap(candidates.begin(), candidates.end(), std::greater<>{});
  while (!candidates.empty() && out.size() < want) {
    std::pop_heap(candidates.begin(), candidates.end(), std::greater<>{});
    auto piece = candidates.back().second;
    candidates.pop_back();
    // The holder this peer asks least, among those that take a request now.
    std::uint32_t best = no_parent;
    std::uint64_t best_key = 0;
    for (std::uint32_t q = 0; q < parent_held_.size(); ++q) {
      if (!parent_held_[q][piece] || asked_[q] >= opts_.per_parent || !free(q)) continue;
      std::uint64_t key = (static_cast<std::uint64_t>(asked_[q]) << 32) | shuffled(q ^ piece);
      if (best == no_parent || key < best_key) {
        best = q;
        best_key = key;
      }
    }
    if (best == no_parent) continue;
    flying_[piece] = true;  // (held by a parent: never an orphan)
    ++asked_[best];
    out.push_back({piece, best});
  }
  return out;
}

void piece_picker::fetching(std::uint64_t piece) {
  if (!flying_.at(piece) && !have_[piece] && avail_[piece] == 0) --orphans_;
  flying_[piece] = true;
}

void piece_picker::done(std::uint64_t piece, std::uint32_t parent, bool ok) {
  flying_.at(piece) = false;
  if (parent != no_parent) --asked_.at(parent);
  if (ok && !have_[piece]) {
    have_[piece] = true;
    ++held_;
  } else if (!have_[piece] && avail_[piece] == 0) {
    ++orphans_;  // lost, and no parent holds it
  }
}

void piece_picker::check_invariants() const {
  for (std::uint64_t p = 0; p < have_.size(); ++p) {
    std::uint32_t n = 0;
    for (const auto& bits : parent_held_) n += bits[p] ? 1 : 0;
    if (n != avail_[p]) std::abort();
  }
  std::uint64_t held = 0, orphans = 0;
  for (std::uint64_t p = 0; p < have_.size(); ++p) {
    held += have_[p] ? 1 : 0;
    orphans += !have_[p] && !flying_[p] && avail_[p] == 0 ? 1 : 0;
  }
  if (held != held_ || orphans != orphans_) std::abort();
}

}  // namespace damselfly::scheduler
