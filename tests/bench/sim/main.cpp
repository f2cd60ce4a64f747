// SPDX-License-Identifier: Apache-2.0
// swarm_sim: a whole swarm on the real scheduler in virtual time; prints its figures (--json).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "damselfly/common/piece_math.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/scheduler/parent_set_defaults.hpp"
#include "swarm_sim.hpp"

namespace {

/// "16M", "128K", "1G" or plain bytes.
std::uint64_t bytes_flag(const std::string& text, const char* name) {
  auto v = damselfly::parse_size(text);
  if (!v) throw CLI::ValidationError(name, "expects a size like 16M, 128K or 1G");
  return *v;
}

}  // namespace

int main(int argc, char** argv) {
  using damselfly::sim::sim_config;
  CLI::App app{"swarm_sim: a distribution by the real scheduler in virtual time"};
  sim_config cfg;
  std::string size = "16M", piece, rate = "2M", supernode_rate, origin_rate;
  double latency_ms = 0.05;
  bool json = false, per_node = false;
  app.add_option("--nodes", cfg.nodes, "Nodes (daemons)")->check(CLI::Range(1u, 1000000u));
  app.add_option("--size", size, "File size, like 16M or 1G");
  app.add_option("--piece-size", piece,
                 "Piece size (default: the supernode's choice for the size)");
  app.add_option("--rate", rate,
                 "Upload per node per second, like 2M (bytes) or 1250M (10 Gbit/s)");
  app.add_option("--supernode-rate", supernode_rate, "The supernode's upload (default: --rate)");
  app.add_option("--origin-rate", origin_rate, "The origin's upload (default: --rate)");
  app.add_option("--latency-ms", latency_ms, "One-way latency between any two hosts");
  app.add_option("--parallel", cfg.parallel, "Pieces in flight per node");
  app.add_option("--upload-slots", cfg.upload_slots, "Concurrent uploads per node");
  app.add_option("--child-upload-slots", cfg.child_upload_slots,
                 "Of those, to children of the parent-set protocol");
  app.add_option("--seed-slots", cfg.seed_slots, "Concurrent uploads by the supernode");
  app.add_option("--origin-concurrency", cfg.origin_concurrency,
                 "Range requests the supernode has open to the origin at once");
  app.add_option("--per-source", cfg.per_source,
                 "Pieces one node may fetch from one peer at once (default: the scheduler's)");
  app.add_option("--decision-us", cfg.decision_cost,
                 "Supernode CPU per assignment, µs (scheduler_bench: 6.25 at 10,000 peers)")
      ->transform([](std::string s) { return std::to_string(std::stod(s) * 1e-6); });
  app.add_option("--sync-us", cfg.sync_cost,
                 "Supernode CPU per sync besides assignments, µs (held_asks.py --want 0: 11-13)")
      ->transform([](std::string s) { return std::to_string(std::stod(s) * 1e-6); });
  app.add_option("--register-us", cfg.register_cost,
                 "Supernode CPU per registration, µs (held_asks.py: 14-19)")
      ->transform([](std::string s) { return std::to_string(std::stod(s) * 1e-6); });
  app.add_option("--held-us", cfg.held_cost,
                 "Supernode CPU per held sync on top of --sync-us, µs (held_asks.py: 28-30 in all)")
      ->transform([](std::string s) { return std::to_string(std::stod(s) * 1e-6); });
  app.add_option("--join-spread", cfg.join_spread, "Nodes start uniformly within S seconds");
  app.add_option("--kill", cfg.kill, "Nodes killed at --kill-at (never back)");
  app.add_option("--kill-at", cfg.kill_at, "When to kill them, seconds");
  app.add_option("--seed", cfg.seed, "Random seed");
  std::string protocol = "auto";
  app.add_option("--protocol", protocol,
                 "auto: what the programs do by default (parents from " +
                     std::to_string(damselfly::scheduler::parent_set_defaults::from_peers) +
                     " nodes, central below); central: the supernode decides every piece; "
                     "parents: it gives each node --parents parents and injects pieces, nodes "
                     "pick the rest themselves")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "central", "parents"}));
  app.add_option("--parents", cfg.parents, "Parents per node with parent sets")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000u));
  app.add_option("--time-limit", cfg.time_limit, "Virtual seconds before giving up");
  app.add_flag("--json", json, "One JSON object on stdout");
  app.add_flag("--per-node", per_node, "With --json: every node's completion time");
  CLI11_PARSE(app, argc, argv);
  try {
    cfg.size = bytes_flag(size, "--size");
    cfg.piece_size = piece.empty()
                         ? damselfly::choose_piece_size(static_cast<std::int64_t>(cfg.size))
                         : bytes_flag(piece, "--piece-size");
    cfg.node_rate = static_cast<double>(bytes_flag(rate, "--rate"));
    if (!supernode_rate.empty())
      cfg.supernode_rate = static_cast<double>(bytes_flag(supernode_rate, "--supernode-rate"));
    if (!origin_rate.empty())
      cfg.origin_rate = static_cast<double>(bytes_flag(origin_rate, "--origin-rate"));
  } catch (const CLI::Error& e) {
    return app.exit(e);
  }
  if (cfg.piece_size == 0 || cfg.size == 0 || cfg.node_rate <= 0) {
    std::fprintf(stderr, "swarm_sim: error: sizes and rates must be positive\n");
    return 2;
  }
  cfg.latency = latency_ms / 1000;
  // The programs switch a task once it has had so many peers registered;
  // here the rule applies to the swarm's size as a whole (its nodes join
  // within --join-spread, and a task switches at the sync after that many).
  if (protocol == "auto")
    protocol =
        cfg.nodes >= damselfly::scheduler::parent_set_defaults::from_peers ? "parents" : "central";
  cfg.parent_sets = protocol == "parents";
  if (cfg.parent_sets && cfg.kill > 0) {
    std::fprintf(stderr,
                 "swarm_sim: error: --kill is not modelled with parent sets (the default from "
                 "%zu nodes); add --protocol central\n",
                 damselfly::scheduler::parent_set_defaults::from_peers);
    return 2;
  }
  auto wall0 = std::chrono::steady_clock::now();
  auto r = damselfly::sim::run_swarm(cfg);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  double span = r.end > 0 ? r.end : 1;
  nlohmann::json out{{"nodes", r.nodes},
                     {"size", cfg.size},
                     {"piece_size", cfg.piece_size},
                     {"rate", cfg.node_rate},
                     {"latency_ms", latency_ms},
                     {"t_min_s", r.t_min},
                     {"mean_s", r.mean},
                     {"p50_s", r.p50},
                     {"last_s", r.last},
                     {"mean_ratio", r.mean / r.t_min},
                     {"last_ratio", r.last / r.t_min},
                     {"finished", r.finished},
                     {"protocol", protocol},
                     {"decisions", r.decisions},
                     {"local_picks", r.local_picks},
                     {"syncs", r.syncs},
                     {"reports", r.reports},
                     {"held_syncs", r.held},
                     {"decisions_per_s", static_cast<double>(r.decisions) / span},
                     {"control_bytes", r.control_bytes},
                     {"supernode_control_bytes", r.supernode_control_bytes},
                     {"supernode_piece_bytes", r.supernode_piece_bytes},
                     {"supernode_control_share",
                      static_cast<double>(r.supernode_control_bytes) /
                          static_cast<double>(r.supernode_control_bytes + r.supernode_piece_bytes)},
                     {"origin_bytes", r.origin_bytes},
                     {"supernode_busy", r.supernode_cpu / span},
                     {"scheduler_busy_measured", r.scheduler_wall / span},
                     {"events", r.events},
                     {"wall_s", wall}};
  if (per_node) out["completion_s"] = r.completion;
  if (json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf(
        "%u nodes, T_min %.3f s: mean %.3f s (%.3fx), last %.3f s (%.3fx); %u finished\n"
        "supernode: %llu decisions (%.0f/s), busy %.1f%% of one core (model), %.1f%% "
        "(measured); control %.1f%% of its upload\n"
        "%llu events in %.1f s\n",
        r.nodes, r.t_min, r.mean, r.mean / r.t_min, r.last, r.last / r.t_min, r.finished,
        static_cast<unsigned long long>(r.decisions), static_cast<double>(r.decisions) / span,
        100 * r.supernode_cpu / span, 100 * r.scheduler_wall / span,
        100 * out["supernode_control_share"].get<double>(),
        static_cast<unsigned long long>(r.events), wall);
  }
  return r.finished + cfg.kill >= cfg.nodes ? 0 : 1;
}
