// SPDX-License-Identifier: Apache-2.0
// supernode: the Damselfly origin cache and scheduler service.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>

#include "damselfly/common/file_io.hpp"
#include "damselfly/common/logging.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/service_runner.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/tls_flags.hpp"
#include "damselfly/common/yaml_config.hpp"
#include "damselfly/supernode/supernode.hpp"

int main(int argc, char** argv) {
  using namespace damselfly;
  supernode::supernode_config cfg;
  std::string log_level = "info";
  std::string log_file;
  std::string port_file;
  std::string piece_size = "0";
  unsigned origin_timeout_s = 30;
  unsigned recheck_s = 30;
  unsigned peer_timeout_s = 15;
  std::string upload_rate = "0";

  CLI::App app{
      "Damselfly supernode: fetches each source once, caches it in pieces and schedules peers"};
  app.set_version_flag("--version", "supernode 0.1.0");
  app.add_option("--listen", cfg.listen, "Address and port of the HTTP API and piece server")
      ->capture_default_str();
  app.add_option("--data-dir", cfg.data_dir, "Directory of the piece cache")->capture_default_str();
  app.add_option("--piece-size", piece_size,
                 "Fixed piece size like 4M; 0 chooses by file size (1-16 MiB, ~256 pieces)")
      ->capture_default_str();
  app.add_option("--origin-concurrency", cfg.origin_concurrency,
                 "Parallel Range requests to the origin per task")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--origin-timeout", origin_timeout_s,
                 "Seconds an origin connection may stall before the fetch fails")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3600u));
  tls_options tls;
  add_tls_flags(app, tls);
  app.add_option("--recheck-interval", recheck_s,
                 "Seconds between re-checks of a cached file's ETag/Last-Modified at the origin")
      ->capture_default_str();
  app.add_option("--seed-slots", cfg.seed_slots,
                 "Concurrent piece uploads per task served by the supernode itself")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--peer-upload-slots", cfg.peer_upload_slots,
                 "Concurrent uploads assumed for a peer that does not say")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--upload-rate", upload_rate,
                 "Piece upload rate of the supernode per second, like 100M; 0 is unlimited")
      ->capture_default_str();
  app.add_option("--peer-timeout", peer_timeout_s,
                 "Seconds without a sync or heartbeat after which a peer is dropped")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3600u));
  std::string cache_quota = "0", min_free = "0";
  unsigned cache_ttl_s = 0;
  app.add_option(
         "--cache-quota", cache_quota,
         "Evict cached files (least recently used first) above this size, like 500G; 0: none")
      ->capture_default_str();
  app.add_option("--min-free", min_free,
                 "Evict cached files while the disk has less than this free, like 20G; 0: none")
      ->capture_default_str();
  app.add_option("--cache-ttl", cache_ttl_s,
                 "Evict cached files nobody asked for in this many seconds; 0: keep")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.add_option("--log-file", log_file, "Log to this file instead of stderr");
  app.add_option("--port-file", port_file,
                 "Write the bound port here once listening (useful with --listen ADDR:0)");
  add_yaml_config_option(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  auto size = parse_size(piece_size);
  if (!size || (*size != 0 && (*size < 16 * 1024 || *size > (1ull << 30)))) {
    std::fprintf(stderr, "supernode: error: --piece-size must be 0 or between 16K and 1G\n");
    return 2;
  }
  cfg.sizing.fixed_size = *size;
  cfg.origin_timeout = std::chrono::seconds(origin_timeout_s);
  std::string tls_why;
  auto tls_ctx = tls_context::create(tls, &tls_why);
  if (!tls_ctx) {
    std::fprintf(stderr, "supernode: error: %s\n", tls_why.c_str());
    return 2;
  }
  cfg.origin_tls = *tls_ctx;
  cfg.recheck_interval = std::chrono::seconds(recheck_s);
  cfg.peer_timeout = std::chrono::seconds(peer_timeout_s);
  auto rate = parse_size(upload_rate);
  if (!rate) {
    std::fprintf(stderr, "supernode: error: --upload-rate must be a size like 100M or 0\n");
    return 2;
  }
  cfg.upload_rate = *rate;
  auto quota = parse_size(cache_quota);
  auto floor = parse_size(min_free);
  if (!quota || !floor) {
    std::fprintf(stderr,
                 "supernode: error: --cache-quota and --min-free are sizes like 500G, or 0\n");
    return 2;
  }
  cfg.cache_quota = *quota;
  cfg.min_free = *floor;
  cfg.cache_ttl = std::chrono::seconds(cache_ttl_s);
  if (setup_logging("supernode", log_level, log_file)) {
    std::fprintf(stderr, "supernode: error: bad --log-level or unwritable --log-file\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);

  boost::asio::io_context io(1);
  auto node = std::make_unique<supernode::supernode>(io.get_executor(), cfg);
  auto port = node->start();
  if (!port) {
    std::fprintf(stderr, "supernode: error: cannot start on %s with data dir %s: %s\n",
                 cfg.listen.c_str(), cfg.data_dir.c_str(), port.error().message().c_str());
    return 1;
  }
  if (!port_file.empty()) {
    if (replace_file(port_file, std::to_string(*port) + "\n")) {
      std::fprintf(stderr, "supernode: error: cannot write --port-file %s\n", port_file.c_str());
      return 1;
    }
  }
  bool clean = run_until_signalled(io, {[&] { node->stop(); }, [&] { return node->connections(); },
                                        [&] { node->cancel(); }});
  // Something that ignored its cancellation may still refer to the node: keep it.
  if (!clean) (void)node.release();
  spdlog::shutdown();
  return 0;
}
