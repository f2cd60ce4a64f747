// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the scheduler fed arbitrary sequences of joins, reports, syncs and time.
// Each input byte pair is one event; the swarm's invariants are checked after each.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "damselfly/scheduler/swarm.hpp"

namespace {

using namespace damselfly::scheduler;

const std::string peers[] = {"A", "B", "C", "D"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // 512 events reach every state four peers and sixteen pieces have; longer
  // sequences only slow the search.
  if (size > 1024) return 0;
  swarm s({}, 7);
  constexpr std::uint64_t pieces = 16;
  s.set_piece_count(pieces);
  auto now = clock::time_point{} + std::chrono::hours(1);
  for (std::size_t i = 0; i + 1 < size; i += 2) {
    const auto& peer = peers[data[i] & 3];
    std::uint64_t arg = data[i + 1];
    switch ((data[i] >> 2) % 8) {
      case 0:
        s.seed_has(arg % pieces);
        break;
      case 1: {
        std::vector<bool> held(arg % (pieces + 1));
        for (std::size_t b = 0; b < held.size(); ++b) held[b] = (arg >> (b % 8)) & 1;
        // Some peers share an address or a host: one source, one witness.
        s.join(peer,
               {(arg & 4 ? std::string("shared") : peer) + ":1", arg & 1 ? "idc" : "", "a|b",
                1 + unsigned(arg % 4), arg & 2 ? "h" : ""},
               held, now);
        break;
      }
      case 2:
        s.leave(peer);
        break;
      case 3:  // a report of any piece index, honest or not
        s.report(peer, arg < 200 ? arg % pieces : arg << 56, piece_outcome(arg % 4),
                 arg & 8 ? supernode_source : (arg & 16 ? "shared" : peers[arg & 3]) + ":1", now);
        break;
      case 4:
        (void)s.assign(peer, static_cast<std::uint32_t>(arg % 20), now);
        break;
      case 5:
        now += std::chrono::seconds(arg);
        s.expire(now);
        break;
      case 6:
        s.touch(peer, now);
        break;
      default:
        (void)s.has_peer(peer);
        break;
    }
    s.check_invariants();
  }
  return 0;
}
