// SPDX-License-Identifier: Apache-2.0
// Rarest-first piece choice and closest, least-loaded source choice.
#include "damselfly/scheduler/swarm.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <tuple>

namespace damselfly::scheduler {

namespace {

constexpr int gone_index = -2;  ///< a source peer that has left
constexpr int no_source = -3;

}  // namespace

swarm::swarm(swarm_options opts, std::uint64_t rng_seed) : opts_(opts), rng_(rng_seed) {}

void swarm::ensure_piece(std::uint64_t piece) {
  if (piece >= seed_.size()) seed_.resize(piece + 1, false);
  if (piece >= known_.size()) known_.resize(piece + 1, false);
  if (piece >= injected_.size()) injected_.resize(piece + 1, false);
  if (piece >= avail_.size()) {
    avail_.resize(piece + 1, 0);
    fetching_.resize(piece + 1, 0);
    holders_.resize(piece + 1);
  }
}

std::uint64_t swarm::piece_limit() const {
  return std::max<std::uint64_t>(seed_.size(), avail_.size());
}

void swarm::digest_known(std::uint64_t piece) {
  ensure_piece(piece);
  known_[piece] = true;
}

void swarm::seed_has(std::uint64_t piece) {
  ensure_piece(piece);
  known_[piece] = true;
  if (!seed_[piece]) {
    seed_[piece] = true;
    ++seed_count_;
  }
}

void swarm::add_holding(int index, std::uint64_t piece) {
  ensure_piece(piece);
  auto& p = peers_[static_cast<std::size_t>(index)];
  // A peer that says it holds a piece it was still fetching (it registered
  // again, e.g. after a restart) needs those fetches no more.
  if (auto f = p.in_flight.find(piece); f != p.in_flight.end()) {
    for (const auto& x : f->second) drop_flight(x);
    p.in_flight.erase(f);
    --fetching_[piece];
  }
  if (piece >= p.held.size()) p.held.resize(piece + 1, false);
  if (p.held[piece]) return;
  p.held[piece] = true;
  ++p.held_count;
  ++held_total_;
  ++avail_[piece];
  holders_[piece].push_back(index);
}

void swarm::join(const std::string& peer, const peer_info& info, const std::vector<bool>& held,
                 clock::time_point now) {
  int index;
  if (auto it = by_id_.find(peer); it != by_id_.end()) {
    index = it->second;
    auto& p = peers_[static_cast<std::size_t>(index)];
    if (p.info.addr != info.addr) {
      if (auto a = by_addr_.find(p.info.addr); a != by_addr_.end() && a->second == index)
        by_addr_.erase(a);
    }
  } else {
    if (free_.empty()) {
      index = static_cast<int>(peers_.size());
      peers_.emplace_back();
    } else {
      index = free_.back();
      free_.pop_back();
    }
    peers_[static_cast<std::size_t>(index)] = peer_state{};
    peers_[static_cast<std::size_t>(index)].id = peer;
    peers_[static_cast<std::size_t>(index)].active = true;
    by_id_[peer] = index;
  }
  auto& p = peers_[static_cast<std::size_t>(index)];
  p.info = info;
  // Names become integers once, so comparing closeness costs no string work.
  p.idc_id = info.idc.empty() ? -1 : intern("idc:" + info.idc);
  p.location_ids.fill(-1);
  for (std::size_t level = 0, from = 0; level < p.location_ids.size() && !info.location.empty();
       ++level) {
    auto bar = info.location.find('|', from);
    p.location_ids[level] = intern("loc:" + info.location.substr(0, bar));
    if (bar == std::string::npos) break;
    from = bar + 1;
  }
  // One address, one source: the newest registration at an address serves
  // from it; peers registered there before no longer count as sources.
  p.addr_id = info.addr.empty() ? -1 : intern("addr:" + info.addr);
  p.serving = !info.addr.empty();
  if (p.serving) {
    auto& owner = by_addr_[info.addr];
    if (owner != index && peers_[static_cast<std::size_t>(owner)].active &&
        peers_[static_cast<std::size_t>(owner)].info.addr == info.addr)
      peers_[static_cast<std::size_t>(owner)].serving = false;
    owner = index;
  }
  p.witness = info.host.empty() ? "peer:" + peer : "host:" + info.host;
  p.last_seen = now;
  for (std::uint64_t i = 0; i < held.size(); ++i)
    if (held[i]) add_holding(index, i);
}

bool swarm::has_peer(const std::string& peer) const {
  return by_id_.contains(peer);
}

void swarm::touch(const std::string& peer, clock::time_point now) {
  if (auto it = by_id_.find(peer); it != by_id_.end())
    peers_[static_cast<std::size_t>(it->second)].last_seen = now;
}

void swarm::drop_flight(const flight& f) {
  if (f.source == seed_index) {
    --seed_load_;
  } else if (f.source >= 0) {
    --peers_[static_cast<std::size_t>(f.source)].uploads;
  }
}

void swarm::remove_peer(int index) {
  auto& p = peers_[static_cast<std::size_t>(index)];
  for (const auto& [piece, flights] : p.in_flight) {
    --fetching_[piece];
    for (const auto& f : flights) {
      if (f.source == seed_index) injected_[piece] = false;  // lost with it
      drop_flight(f);
    }
  }
  for (std::uint64_t i = 0; i < p.held.size(); ++i) {
    if (!p.held[i]) continue;
    --avail_[i];
    std::erase(holders_[i], index);
  }
  held_total_ -= p.held_count;
  // Flights others have from this peer no longer count against anyone, and
  // the index may be reused: forget it everywhere.
  for (int q : p.parent_indices) --peers_[static_cast<std::size_t>(q)].children;
  for (auto& other : peers_) {
    if (!other.active) continue;
    for (auto& [piece, flights] : other.in_flight)
      for (auto& f : flights)
        if (f.source == index) f.source = gone_index;
    if (std::erase(other.parent_indices, index) > 0) other.parents.erase(p.addr_id);
    std::erase(other.told, index);
  }
  by_id_.erase(p.id);
  if (auto a = by_addr_.find(p.info.addr); a != by_addr_.end() && a->second == index)
    by_addr_.erase(a);
  p = peer_state{};
  free_.push_back(index);
}

void swarm::leave(const std::string& peer) {
  if (auto it = by_id_.find(peer); it != by_id_.end()) remove_peer(it->second);
}

int swarm::source_index(const std::string& source) const {
  if (source == supernode_source) return seed_index;
  auto it = by_addr_.find(source);
  return it == by_addr_.end() ? gone_index : it->second;
}

void swarm::report(const std::string& peer, std::uint64_t piece, piece_outcome outcome,
                   const std::string& source, clock::time_point now) {
  auto it = by_id_.find(peer);
  // Only pieces the swarm knows can have been assigned: anything else is a
  // lie, and must not grow the tables (piece + 1 would even wrap).
  if (it == by_id_.end() || piece >= piece_limit()) return;
  int index = it->second;
  auto& p = peers_[static_cast<std::size_t>(index)];
  p.last_seen = now;
  int src = source_index(source);
  bool assigned = false;  // the supernode sent this peer to this source for this piece
  if (auto f = p.in_flight.find(piece); f != p.in_flight.end()) {
    auto& flights = f->second;
    // By address: the peer serving from it may have registered again since.
    auto match = std::find_if(flights.begin(), flights.end(), [&](const flight& x) {
      return x.source == src ||
             (x.source >= 0 && peers_[static_cast<std::size_t>(x.source)].info.addr == source);
    });
    if (match != flights.end()) {
      assigned = true;
      if (match->source == seed_index && outcome != piece_outcome::ok) injected_[piece] = false;
      drop_flight(*match);
      flights.erase(match);
    }
    if (outcome == piece_outcome::ok) {
      for (const auto& other : flights) drop_flight(other);  // endgame duplicates
      flights.clear();
    }
    if (flights.empty()) {
      p.in_flight.erase(f);
      --fetching_[piece];
    }
  }
  if (outcome == piece_outcome::ok) {
    add_holding(index, piece);
    return;
  }
  if (source == supernode_source) return;
  // Avoiding a source costs nobody but the reporter. Counting against it
  // takes an assignment: a peer cannot frame a source it was never sent to,
  // and the peers of one host are one witness.
  auto& until = p.avoid[intern("addr:" + source)];
  until = std::max(until, outcome == piece_outcome::bad_digest ? clock::time_point::max()
                                                               : now + opts_.avoid_for);
  if (outcome != piece_outcome::bad_digest || !assigned) return;
  auto& witnesses = bad_digest_witnesses_[source];
  if (witnesses.size() < opts_.bad_source_limit) witnesses.insert(p.witness);
  if (witnesses.size() >= opts_.bad_source_limit) bad_addrs_.insert(intern("addr:" + source));
}

unsigned swarm::distance(const peer_state& a, const peer_state& b) const {
  unsigned d = 0;
  if (a.idc_id < 0 || a.idc_id != b.idc_id) d += 8;
  unsigned shared = 0;
  while (shared < a.location_ids.size() && a.location_ids[shared] >= 0 &&
         a.location_ids[shared] == b.location_ids[shared])
    ++shared;
  return d + 4 - shared;
}

int swarm::intern(const std::string& name) {
  return interned_.try_emplace(name, static_cast<int>(interned_.size())).first->second;
}

int swarm::pick_source(int asker, std::uint64_t piece, int exclude_source,
                       const std::unordered_map<int, unsigned>& from_source, bool seed_copies_ok,
                       clock::time_point now) {
  const auto& a = peers_[static_cast<std::size_t>(asker)];
  int best = no_source;
  std::tuple<unsigned, unsigned, std::uint64_t> best_key{};
  const auto& holders = holders_[piece];
  const std::size_t n = holders.size();
  const std::size_t first = n > opts_.source_candidates ? rng_() % n : 0;
  // In a large swarm most holders may be busy: the scan stops after a window
  // of them whether free or not, or one decision would walk every holder
  // (and a sync that finds no free source, every holder of every piece).
  const std::size_t window = std::min<std::size_t>(n, opts_.source_scan);
  unsigned compared = 0;
  bool usable_holder = false;  // one that could serve the asker once it has a free slot
  std::size_t k = 0;
  for (; k < window && compared < opts_.source_candidates; ++k) {
    int h = holders[(first + k) % n];
    if (h == asker || h == exclude_source) continue;
    const auto& p = peers_[static_cast<std::size_t>(h)];
    // Serves nothing, or a newer registration serves from its address now.
    if (!p.serving) continue;
    if (auto f = a.avoid.find(p.addr_id); f != a.avoid.end() && now < f->second) continue;
    if (!bad_addrs_.empty() && bad_addrs_.contains(p.addr_id)) continue;
    usable_holder = true;
    if (p.uploads >= p.info.upload_slots) continue;
    if (auto f = from_source.find(h);
        f != from_source.end() && f->second >= opts_.per_source_in_flight)
      continue;
    ++compared;
    std::tuple<unsigned, unsigned, std::uint64_t> key{distance(a, p), p.uploads, rng_()};
    if (best == no_source || key < best_key) {
      best = h;
      best_key = key;
      if (std::get<0>(key) == 0 && std::get<1>(key) == 0) break;  // nothing can beat it
    }
  }
  if (best != no_source) return best;
  if (piece >= seed_.size() || !seed_[piece] || seed_load_ >= opts_.seed_slots ||
      exclude_source == seed_index)
    return no_source;
  // The seed injects pieces; peers spread them. It serves a piece that some
  // peer holds or is already fetching only when no peer could ever serve the
  // asker (all avoided, bad or not serving), or as an endgame duplicate:
  // otherwise its upload would go to copies of one piece instead of new ones.
  const bool first_copy = avail_[piece] == 0 && fetching_[piece] == 0;
  const bool endgame = exclude_source != no_source;
  if (first_copy || endgame || seed_copies_ok) return seed_index;
  // Nobody the asker could ever get it from (all avoided, bad or not serving);
  // known only when every holder was looked at.
  if (!usable_holder && k == n && avail_[piece] > 0) return seed_index;
  return no_source;
}

std::vector<decision> swarm::assign(const std::string& peer, std::uint32_t want,
                                    clock::time_point now) {
  std::vector<decision> out;
  auto it = by_id_.find(peer);
  if (it == by_id_.end() || want == 0) return out;
  int index = it->second;
  auto& p = peers_[static_cast<std::size_t>(index)];
  p.last_seen = now;

  std::unordered_map<int, unsigned> from_source;  // this peer's flights per peer source
  for (const auto& [piece, flights] : p.in_flight)
    for (const auto& f : flights)
      if (f.source >= 0) ++from_source[f.source];
  auto take = [&](std::uint64_t piece, int src) {
    start_flight(p, piece, src, now, out);
    if (src >= 0) ++from_source[src];
  };

  // Rarest first: key = holders (the seed counts as one), random tie-break.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> candidates;
  bool fresh = false;  // a piece only the seed has, nobody fetching it
  const auto limit = piece_limit();
  for (std::uint64_t i = 0; i < limit; ++i) {
    bool seeded = i < seed_.size() && seed_[i];
    std::uint32_t holders = i < avail_.size() ? avail_[i] : 0;
    // Only pieces whose digest the supernode knows can be verified by peers.
    if (i >= known_.size() || !known_[i] || holds(p, i) || p.in_flight.contains(i)) continue;
    // Copies on their way count: two peers asking at once then pick two
    // different pieces, and each copy arriving can be passed on.
    std::uint64_t rarity = holders + fetching_[i] + (seeded ? 1 : 0);
    if (rarity == 0) continue;  // known, but held by nobody yet
    if (seeded && rarity == 1) fresh = true;
    candidates.emplace_back((rarity << 32) | (rng_() & 0xffffffffu), i);
  }
  // Only the first few are usually needed: a heap yields them in order
  // without sorting the rest.
  const bool any_candidates = !candidates.empty();
  std::make_heap(candidates.begin(), candidates.end(), std::greater<>{});
  while (!candidates.empty() && out.size() < want) {
    std::pop_heap(candidates.begin(), candidates.end(), std::greater<>{});
    auto piece = candidates.back().second;
    candidates.pop_back();
    // Once the seed holds the whole file and nothing is left to inject, its
    // spare upload serves copies; before, new pieces keep arriving and come first.
    const bool seed_copies_ok = !fresh && piece_count_ > 0 && seed_count_ == piece_count_;
    int src = pick_source(index, piece, no_source, from_source, seed_copies_ok, now);
    if (src != no_source) take(piece, src);
  }

  // Endgame: everything still missing is in flight; ask a second source for
  // each so one slow or dead source cannot hold the download back.
  bool all_known_in_flight =
      piece_count_ > 0 && !any_candidates && p.held_count + p.in_flight.size() == piece_count_;
  if (all_known_in_flight && p.in_flight.size() <= opts_.endgame_pieces) {
    std::vector<std::pair<std::uint64_t, int>> singles;
    for (const auto& [piece, flights] : p.in_flight)
      if (flights.size() == 1) singles.emplace_back(piece, flights.front().source);
    for (const auto& [piece, current] : singles) {
      if (out.size() >= want) break;
      int src = pick_source(index, piece, current, from_source, false, now);
      if (src != no_source) take(piece, src);
    }
  }
  return out;
}

void swarm::start_flight(peer_state& p, std::uint64_t piece, int src, clock::time_point now,
                         std::vector<decision>& out) {
  auto& flights = p.in_flight[piece];
  if (flights.empty()) ++fetching_[piece];
  flights.push_back({src, now});
  if (src == seed_index) {
    ++seed_load_;
    // A piece the seed sent while the task was scheduled centrally is in
    // the swarm as much as an injected one: parents pass it on. Injected
    // again after the switch to parent sets, it cost the seed's link, which
    // every new piece must cross, a second copy (4 of 256 pieces at N=40).
    // A peer that serves nothing passes nothing on: its copy does not count.
    if (p.serving) injected_[piece] = true;
    out.push_back({piece, supernode_source});
  } else {
    auto& s = peers_[static_cast<std::size_t>(src)];
    ++s.uploads;
    out.push_back({piece, s.info.addr});
  }
}

std::vector<std::string> swarm::parents_for(const std::string& peer, unsigned want) {
  std::vector<std::string> out;
  auto it = by_id_.find(peer);
  if (it == by_id_.end()) return out;
  const int index = it->second;
  auto& p = peers_[static_cast<std::size_t>(index)];
  // Peers that took this one as a parent are its parents too: told now.
  for (int q : p.told) out.push_back(peers_[static_cast<std::size_t>(q)].info.addr);
  p.told.clear();
  if (want == 0) return out;
  auto eligible = [&](int q) {
    const auto& c = peers_[static_cast<std::size_t>(q)];
    return q != index && c.active && c.serving && !p.parents.contains(c.addr_id) &&
           !bad_addrs_.contains(c.addr_id);
  };
  auto give = [&](int q) {
    auto& c = peers_[static_cast<std::size_t>(q)];
    p.parents.insert(c.addr_id);
    p.parent_indices.push_back(q);
    ++c.children;
    out.push_back(c.info.addr);
    // Both ways: the parent hears of the asker at its next sync. Peers
    // registered first took their parents among the few there were, and
    // one-way edges left such a group with parents only inside it, blind to
    // pieces injected elsewhere (a swarm of 10 stalled).
    if (!p.serving || c.parents.contains(p.addr_id)) return;
    c.parents.insert(p.addr_id);
    c.parent_indices.push_back(index);
    c.told.push_back(index);
    ++p.children;
  };
  // The fewer children of two drawn at random, not the fewest of all: at a
  // release peers register one after another and each asks at once, so the
  // fewest children were always those just registered before it, and the
  // graph became a band in registration order — a few edges between its
  // first and last peers (the emulated cluster: the first 26 of 40
  // finished 4 s after the last 14). Two draws keep the load even and the
  // edges random. In a swarm of thousands a draw is a bounded number of
  // tries, so one call never walks every peer.
  const std::size_t n = peers_.size();
  const bool large = n > std::max<std::size_t>(512, 8u * want);
  std::vector<int> pool;
  if (!large)
    for (std::size_t q = 0; q < n; ++q)
      if (eligible(static_cast<int>(q))) pool.push_back(static_cast<int>(q));
  auto draw = [&]() -> int {
    if (!large) return pool.empty() ? -1 : static_cast<int>(rng_() % pool.size());
    for (int tries = 0; tries < 16; ++tries)
      if (int q = static_cast<int>(rng_() % n); eligible(q)) return q;
    return -1;
  };
  auto peer_of = [&](int d) { return large ? d : pool[static_cast<std::size_t>(d)]; };
  for (unsigned k = 0; k < want; ++k) {
    int a = draw(), b = draw();
    if (a < 0) a = b;
    if (a < 0) break;
    if (b >= 0 && peers_[static_cast<std::size_t>(peer_of(b))].children <
                      peers_[static_cast<std::size_t>(peer_of(a))].children)
      a = b;
    const int q = peer_of(a);
    if (!eligible(q)) continue;  // (a large swarm's draw may repeat one just given)
    give(q);
    if (!large) {
      pool[static_cast<std::size_t>(a)] = pool.back();
      pool.pop_back();
    }
  }
  return out;
}

std::vector<decision> swarm::inject(const std::string& peer, std::uint32_t want,
                                    clock::time_point now) {
  std::vector<decision> out;
  auto it = by_id_.find(peer);
  if (it == by_id_.end()) return out;
  auto& p = peers_[static_cast<std::size_t>(it->second)];
  p.last_seen = now;
  // Not sent yet, whatever peers claim to hold: a registration's bitmap is
  // the peer's word, and one peer claiming every piece stopped all
  // injection. (A resumed peer's pieces go out once more; its word is not
  // enough to skip them.)
  const auto limit = seed_.size();
  for (std::uint64_t i = 0; i < limit && out.size() < want && seed_load_ < opts_.seed_slots; ++i)
    if (seed_[i] && !injected_[i] && !holds(p, i) && !p.in_flight.contains(i)) {
      injected_[i] = true;
      start_flight(p, i, seed_index, now, out);
    }
  return out;
}

unsigned swarm::child_count(const std::string& peer) const {
  auto it = by_id_.find(peer);
  return it == by_id_.end() ? 0 : peers_[static_cast<std::size_t>(it->second)].children;
}

bool swarm::serves(const std::string& peer) const {
  auto it = by_id_.find(peer);
  return it != by_id_.end() && peers_[static_cast<std::size_t>(it->second)].serving;
}

std::size_t swarm::parent_count(const std::string& peer) const {
  auto it = by_id_.find(peer);
  return it == by_id_.end() ? 0 : peers_[static_cast<std::size_t>(it->second)].parents.size();
}

void swarm::expire(clock::time_point now) {
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    auto& p = peers_[i];
    if (!p.active) continue;
    if (now - p.last_seen > opts_.peer_timeout) {
      remove_peer(static_cast<int>(i));
      continue;
    }
    std::erase_if(p.avoid, [now](const auto& a) { return a.second <= now; });
    for (auto f = p.in_flight.begin(); f != p.in_flight.end();) {
      auto& flights = f->second;
      std::erase_if(flights, [&](const flight& x) {
        if (now - x.at <= opts_.assignment_timeout) return false;
        if (x.source == seed_index) injected_[f->first] = false;
        drop_flight(x);
        return true;
      });
      if (flights.empty()) {
        --fetching_[f->first];
        f = p.in_flight.erase(f);
      } else {
        ++f;
      }
    }
  }
}

std::uint64_t swarm::held_count(const std::string& peer) const {
  auto it = by_id_.find(peer);
  return it == by_id_.end() ? 0 : peers_[static_cast<std::size_t>(it->second)].held_count;
}

bool swarm::holds(const std::string& peer, std::uint64_t piece) const {
  auto it = by_id_.find(peer);
  return it != by_id_.end() && holds(peers_[static_cast<std::size_t>(it->second)], piece);
}

std::uint64_t swarm::in_flight_count(const std::string& peer) const {
  auto it = by_id_.find(peer);
  return it == by_id_.end() ? 0 : peers_[static_cast<std::size_t>(it->second)].in_flight.size();
}

bool swarm::in_flight(const std::string& peer, std::uint64_t piece) const {
  auto it = by_id_.find(peer);
  return it != by_id_.end() &&
         peers_[static_cast<std::size_t>(it->second)].in_flight.contains(piece);
}

std::uint64_t swarm::availability(std::uint64_t piece) const {
  return piece < avail_.size() ? avail_[piece] : 0;
}

unsigned swarm::upload_load(const std::string& addr) const {
  auto it = by_addr_.find(addr);
  return it == by_addr_.end() ? 0 : peers_[static_cast<std::size_t>(it->second)].uploads;
}

bool swarm::is_bad(const std::string& addr) const {
  auto it = interned_.find("addr:" + addr);
  return it != interned_.end() && bad_addrs_.contains(it->second);
}

bool swarm::nobody_downloading(std::uint64_t count) const {
  for (const auto& p : peers_)
    if (p.active && (p.held_count < count || !p.in_flight.empty())) return false;
  return true;
}

void swarm::check_invariants() const {
  auto fail = [](const char* what) {
    std::fprintf(stderr, "swarm invariant violated: %s\n", what);
    std::abort();
  };
  std::uint64_t seeds = 0;
  for (bool b : seed_) seeds += b ? 1 : 0;
  if (seeds != seed_count_) fail("seed_count does not match the seed bitmap");
  for (std::size_t i = 0; i < seed_.size(); ++i)
    if (seed_[i] && (i >= known_.size() || !known_[i])) fail("a seeded piece without its digest");
  std::vector<std::uint32_t> avail(avail_.size(), 0);
  std::vector<std::uint32_t> fetching(fetching_.size(), 0);
  std::vector<unsigned> uploads(peers_.size(), 0);
  unsigned seed_load = 0;
  std::size_t active = 0;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    const auto& p = peers_[i];
    if (!p.active) continue;
    ++active;
    std::uint64_t held = 0;
    for (std::uint64_t j = 0; j < p.held.size(); ++j) {
      if (!p.held[j]) continue;
      ++held;
      ++avail[j];
      const auto& h = holders_[j];
      if (std::find(h.begin(), h.end(), static_cast<int>(i)) == h.end())
        fail("holder missing from holders list");
    }
    if (held != p.held_count) fail("held_count does not match the held bitmap");
    if (p.serving) {
      auto o = by_addr_.find(p.info.addr);
      if (o == by_addr_.end() || o->second != static_cast<int>(i))
        fail("a serving peer does not own its address");
    }
    for (const auto& [piece, flights] : p.in_flight) {
      if (piece >= fetching.size()) fail("a piece in flight beyond the known pieces");
      ++fetching[piece];
      if (holds(p, piece)) fail("a held piece is still in flight");
      if (flights.empty()) fail("an empty in-flight entry");
      for (const auto& f : flights) {
        if (f.source == seed_index)
          ++seed_load;
        else if (f.source >= 0)
          ++uploads[static_cast<std::size_t>(f.source)];
      }
    }
  }
  if (active != by_id_.size()) fail("peer index out of step with active peers");
  std::vector<unsigned> children(peers_.size(), 0);
  for (const auto& p : peers_)
    if (p.active)
      for (int q : p.parent_indices) {
        if (!peers_[static_cast<std::size_t>(q)].active) fail("a parent that left");
        ++children[static_cast<std::size_t>(q)];
      }
  for (std::size_t i = 0; i < peers_.size(); ++i)
    if (peers_[i].active && children[i] != peers_[i].children) fail("child counts are wrong");
  std::uint64_t held_total = 0;
  for (const auto& p : peers_)
    if (p.active) held_total += p.held_count;
  if (held_total != held_total_) fail("the total of pieces held is wrong");
  if (avail != avail_) fail("availability counts are wrong");
  if (fetching != fetching_) fail("in-flight counts per piece are wrong");
  if (seed_load != seed_load_) fail("seed load is wrong");
  for (std::size_t i = 0; i < peers_.size(); ++i)
    if (peers_[i].active && uploads[i] != peers_[i].uploads) fail("upload load is wrong");
}

}  // namespace damselfly::scheduler
