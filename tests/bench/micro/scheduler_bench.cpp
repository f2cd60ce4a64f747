// SPDX-License-Identifier: Apache-2.0
// Scheduler decisions per second on one core: 10,000 peers on a 1,024-piece task.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "damselfly/scheduler/swarm.hpp"

namespace {

using namespace damselfly::scheduler;

/// A swarm in mid-download: every piece seeded, each peer holding a random
/// half, peers spread over IDCs and racks. Peers that complete leave and come
/// back empty, so the state stays mid-download however long the run is.
struct busy_swarm {
  static constexpr std::uint64_t pieces = 1024;
  swarm s;
  std::mt19937_64 rng{7};
  std::vector<std::string> ids;
  std::vector<peer_info> infos;
  clock::time_point now = clock::time_point{} + std::chrono::hours(1);

  explicit busy_swarm(int peers) : s(swarm_options{}, 42) {
    for (std::uint64_t i = 0; i < pieces; ++i) s.seed_has(i);
    s.set_piece_count(pieces);
    for (int i = 0; i < peers; ++i) {
      ids.push_back("peer-" + std::to_string(i));
      infos.push_back({"10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1:65002",
                       "idc" + std::to_string(i % 4),
                       "r" + std::to_string(i % 4) + "|z" + std::to_string(i % 16) + "|rack" +
                           std::to_string(i % 64),
                       8, "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1"});
      s.join(ids.back(), infos.back(), random_half(), now);
    }
  }
  std::vector<bool> random_half() {
    std::vector<bool> held(pieces);
    for (std::uint64_t p = 0; p < pieces; ++p) held[p] = (rng() & 1) != 0;
    return held;
  }
};

void BM_AssignAndReport(benchmark::State& state) {
  busy_swarm b(static_cast<int>(state.range(0)));
  std::uniform_int_distribution<std::size_t> pick(0, b.ids.size() - 1);
  std::uint64_t decisions = 0;
  for (auto _ : state) {
    auto i = pick(b.rng);
    auto got = b.s.assign(b.ids[i], 4, b.now);
    decisions += got.size();
    // The fetches succeed at once: sources free up and holdings grow.
    for (const auto& d : got) b.s.report(b.ids[i], d.piece, piece_outcome::ok, d.source, b.now);
    if (b.s.held_count(b.ids[i]) == busy_swarm::pieces) {
      b.s.leave(b.ids[i]);
      b.s.join(b.ids[i], b.infos[i], {}, b.now);
    }
    benchmark::DoNotOptimize(got);
  }
  state.counters["decisions_per_s"] =
      benchmark::Counter(static_cast<double>(decisions), benchmark::Counter::kIsRate);
  state.counters["decisions_per_call"] =
      static_cast<double>(decisions) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_AssignAndReport)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
