// SPDX-License-Identifier: Apache-2.0
// Supernode-seeded piece assignment.
#include "damselfly/scheduler/swarm.hpp"

#include <cstdio>
#include <cstdlib>

namespace damselfly::scheduler {

swarm::swarm(swarm_options opts) : opts_(opts) {}

void swarm::seed_has(std::uint64_t piece) {
  if (piece >= seed_.size()) seed_.resize(piece + 1, false);
  if (!seed_[piece]) {
    seed_[piece] = true;
    ++seed_count_;
  }
}

void swarm::join(const std::string& peer, clock::time_point now) {
  peers_[peer].last_seen = now;
}

bool swarm::has_peer(const std::string& peer) const {
  return peers_.contains(peer);
}

void swarm::leave(const std::string& peer) {
  peers_.erase(peer);
}

void swarm::report(const std::string& peer, std::uint64_t piece, piece_outcome outcome,
                   clock::time_point now) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  auto& p = it->second;
  p.last_seen = now;
  p.in_flight.erase(piece);
  if (outcome != piece_outcome::ok) return;  // back in the pool for this peer
  if (piece >= p.held.size()) p.held.resize(piece + 1, false);
  if (!p.held[piece]) {
    p.held[piece] = true;
    ++p.held_count;
  }
}

std::vector<decision> swarm::assign(const std::string& peer, std::uint32_t want,
                                    clock::time_point now) {
  std::vector<decision> out;
  auto it = peers_.find(peer);
  if (it == peers_.end()) return out;
  auto& p = it->second;
  p.last_seen = now;
  for (std::uint64_t i = 0; i < seed_.size() && out.size() < want; ++i) {
    if (!seed_[i]) continue;
    if (i < p.held.size() && p.held[i]) continue;
    if (p.in_flight.contains(i)) continue;
    p.in_flight.emplace(i, now);
    out.push_back({i, supernode_source});
  }
  return out;
}

void swarm::expire(clock::time_point now) {
  for (auto it = peers_.begin(); it != peers_.end();) {
    auto& p = it->second;
    if (now - p.last_seen > opts_.peer_timeout) {
      it = peers_.erase(it);
      continue;
    }
    std::erase_if(p.in_flight,
                  [&](const auto& kv) { return now - kv.second > opts_.assignment_timeout; });
    ++it;
  }
}

std::uint64_t swarm::held_count(const std::string& peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.held_count;
}

std::uint64_t swarm::in_flight_count(const std::string& peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.in_flight.size();
}

void swarm::check_invariants() const {
  auto fail = [](const char* what) {
    std::fprintf(stderr, "swarm invariant violated: %s\n", what);
    std::abort();
  };
  std::uint64_t seeds = 0;
  for (bool b : seed_) seeds += b ? 1 : 0;
  if (seeds != seed_count_) fail("seed_count does not match the seed bitmap");
  for (const auto& [id, p] : peers_) {
    std::uint64_t held = 0;
    for (bool b : p.held) held += b ? 1 : 0;
    if (held != p.held_count) fail("held_count does not match the held bitmap");
    for (const auto& [piece, at] : p.in_flight) {
      if (piece < p.held.size() && p.held[piece]) fail("a held piece is still in flight");
      if (piece >= seed_.size() || !seed_[piece]) fail("a piece in flight has no source");
    }
  }
}

}  // namespace damselfly::scheduler
