// SPDX-License-Identifier: Apache-2.0
// dfget: downloads a URL through Damselfly, a drop-in for `wget URL -O FILE`.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>

#include "damselfly/common/logging.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/service_runner.hpp"
#include "damselfly/common/task_id.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/tls_flags.hpp"
#include "damselfly/common/url.hpp"
#include "damselfly/common/yaml_config.hpp"
#include "damselfly/dfget/daemon.hpp"
#include "damselfly/dfget/daemon_client.hpp"
#include "damselfly/dfget/daemon_launcher.hpp"
#include "damselfly/dfget/downloader.hpp"
#include "damselfly/dfget/exit_codes.hpp"
#include "damselfly/dfget_storage/output_file.hpp"
#include "damselfly/dfget_storage/resume_record.hpp"
#include "progress_printer.hpp"

#include <unistd.h>

namespace {

using namespace damselfly;

using namespace damselfly::dfget;

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "dfget: error: %s\n", message.c_str());
  return code;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

/// Runs the daemon until SIGTERM/SIGINT; returns the process exit code.
int run_daemon(const dfget::daemon_config& cfg) {
  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  auto d = std::make_unique<dfget::daemon>(io.get_executor(), cfg);
  auto port = d->start();
  if (!port) {
    return fail(exit_internal, "cannot start the daemon (listen " + cfg.listen + ", data dir " +
                                   cfg.data_dir.string() + ", socket " + cfg.socket_path.string() +
                                   "): " + port.error().message());
  }
  bool clean = run_until_signalled(
      io, {[&] { d->stop(); }, [&] { return d->connections(); }, [&] { d->cancel(); }});
  // Something that ignored its cancellation may still refer to the daemon: keep it.
  if (!clean) (void)d.release();
  spdlog::shutdown();
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, url_flag, output, digest_text, md5_text, tag, identifier, filter_text;
  std::vector<std::string> supernodes, headers;
  unsigned parallel = 8;
  unsigned timeout_s = 0;
  bool standalone = false, quiet = false;
  std::string log_level = "warn";

  CLI::App app{"dfget: download a file through the Damselfly peer-to-peer network"};
  app.set_version_flag("--version", "dfget 0.1.0");
  app.add_option("url", url, "URL to download");
  app.add_option("-u,--url", url_flag, "URL to download (Dragonfly spelling)");
  app.add_option("-O,-o,--output", output,
                 "Output file (or directory: the URL's file name is used)");
  app.add_option("--supernode,-n,--node", supernodes,
                 "Supernode HOST:PORT; repeat or separate with commas to give fallbacks")
      ->delimiter(',');
  app.add_option("--digest", digest_text,
                 "Expected digest of the whole file: sha256:HEX or md5:HEX");
  app.add_option("-m,--md5", md5_text, "Expected MD5 of the whole file (same as --digest md5:HEX)");
  app.add_option("--tag", tag, "Tag that separates otherwise identical URLs into different tasks");
  app.add_option("-i,--identifier", identifier,
                 "Content identifier used for the task id instead of a digest");
  app.add_option(
      "-f,--filter", filter_text,
      "Query parameters ignored for task identity, separated by '&' (e.g. 'Expires&Signature')");
  app.add_option("--header", headers, "Header sent to the origin, 'Name: value'; repeatable");
  app.add_option("--parallel", parallel, "Pieces downloaded in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--timeout", timeout_s, "Give up after this many seconds (0: no limit)")
      ->capture_default_str();
  app.add_flag("--standalone", standalone, "Run the download engine inside this process");
  std::string progress_text;
  app.add_option("--progress", progress_text,
                 "bar, json (one event per line on stdout) or none; default: bar on a terminal");
  bool showbar = false;
  app.add_flag("-b,--showbar", showbar, "Same as --progress=bar");
  std::string limit_rate = "0", total_limit = "0";
  app.add_option("--limit-rate,-s,--locallimit", limit_rate,
                 "Download rate cap per second for this download, like 20M");
  app.add_option("--totallimit", total_limit,
                 "Download rate cap per second over all downloads of a daemon dfget starts, like "
                 "100M (in-process: same as --limit-rate)");
  tls_options tls;
  add_tls_flags(app, tls, ",--no-check-certificate");
  bool resume = false;
  app.add_flag("-c,--continue", resume,
               "Keep the pieces of an interrupted in-process download and resume them next time");
  unsigned tries = 5;
  app.add_option("--tries", tries, "Attempts per piece before the download fails")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100u));
  bool no_back_source = false;
  app.add_flag("--no-back-source,--notbs", no_back_source,
               "Fail instead of downloading straight from the origin when no supernode answers");
  app.add_flag("-q,--quiet", quiet, "Print nothing on success");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  std::string daemon_data_dir, daemon_listen = "0.0.0.0:65002";
  unsigned idle_exit_s = 600;
  app.add_option(
      "--daemon-data-dir", daemon_data_dir,
      "Data dir of a daemon dfget starts itself (default: /var/lib/damselfly/dfget for root)");
  app.add_option("--daemon-listen", daemon_listen,
                 "Piece server address of a daemon dfget starts itself")
      ->capture_default_str();
  app.add_option("--idle-exit", idle_exit_s,
                 "A daemon dfget starts itself exits after this many idle seconds")
      ->capture_default_str();
  std::string daemon_socket;
  app.add_option("--daemon-socket", daemon_socket,
                 "Hand the download to the dfget daemon listening on this unix socket");

  dfget::daemon_config dcfg;
  std::vector<std::string> daemon_supernodes;
  std::string upload_rate = "0", download_rate = "0", daemon_total_limit = "0",
              daemon_log_level = "info", daemon_log_file;
  auto* daemon_cmd = app.add_subcommand(
      "daemon", "Run the dfget daemon: downloads for local clients and serves pieces to peers");
  daemon_cmd->add_option("--listen", dcfg.listen, "Address and port of the piece server")
      ->capture_default_str();
  daemon_cmd->add_option("--advertise", dcfg.advertise,
                         "HOST:PORT peers use to reach this daemon (default: the listen address)");
  daemon_cmd->add_option("--data-dir", dcfg.data_dir, "Where pieces are kept")
      ->capture_default_str();
  daemon_cmd
      ->add_option("--supernode,-n,--node", daemon_supernodes, "Supernode HOST:PORT; repeatable")
      ->delimiter(',')
      ->required();
  daemon_cmd->add_option("--socket", dcfg.socket_path, "Unix socket for local dfget clients")
      ->capture_default_str();
  daemon_cmd
      ->add_option("--upload-rate", upload_rate,
                   "Upload cap per second over all peers, like 8M; 0: none")
      ->capture_default_str();
  daemon_cmd
      ->add_option("--download-rate", download_rate,
                   "Download cap per second per download, like 8M; 0: none")
      ->capture_default_str();
  daemon_cmd
      ->add_option("--total-limit,--totallimit", daemon_total_limit,
                   "Download cap per second over all downloads together, like 100M; 0: none")
      ->capture_default_str();
  daemon_cmd->add_option("--idc", dcfg.idc,
                         "This host's IDC (peers in the same IDC are preferred)");
  daemon_cmd->add_option("--location", dcfg.location,
                         "This host's location, like region|zone|rack");
  daemon_cmd->add_option("--upload-slots", dcfg.upload_slots, "Concurrent uploads; more get 503")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  daemon_cmd->add_option("--parallel", dcfg.parallel, "Pieces in flight per download")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  std::string cache_quota = "0", min_free = "0";
  unsigned cache_ttl_s = 0;
  daemon_cmd
      ->add_option(
          "--cache-quota", cache_quota,
          "Evict finished tasks (least recently used first) above this size, like 50G; 0: none")
      ->capture_default_str();
  daemon_cmd
      ->add_option("--min-free", min_free,
                   "Evict finished tasks while the disk has less than this free, like 10G; 0: none")
      ->capture_default_str();
  daemon_cmd
      ->add_option("--cache-ttl", cache_ttl_s,
                   "Evict finished tasks unused for this many seconds; 0: keep")
      ->capture_default_str();
  unsigned daemon_idle_exit_s = 0;
  daemon_cmd
      ->add_option("--idle-exit", daemon_idle_exit_s,
                   "Exit after this many seconds without clients, downloads or uploads; 0: never")
      ->capture_default_str();
  daemon_cmd->add_option("--log-level", daemon_log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  daemon_cmd->add_option("--log-file", daemon_log_file, "Log to this file instead of stderr");
  // Group the help the way users arrive: wget habits, Dragonfly habits, Damselfly's own.
  const std::map<std::string, std::string> groups{
      {"--url", "Download (wget and Dragonfly spellings)"},
      {"--output", "Download (wget and Dragonfly spellings)"},
      {"--header", "Download (wget and Dragonfly spellings)"},
      {"--timeout", "Download (wget and Dragonfly spellings)"},
      {"--tries", "Download (wget and Dragonfly spellings)"},
      {"--limit-rate", "Download (wget and Dragonfly spellings)"},
      {"--totallimit", "Download (wget and Dragonfly spellings)"},
      {"--continue", "Download (wget and Dragonfly spellings)"},
      {"--ca-cert", "HTTPS origins"},
      {"--insecure", "HTTPS origins"},
      {"--quiet", "Download (wget and Dragonfly spellings)"},
      {"--digest", "Verification"},
      {"--md5", "Verification"},
      {"--tag", "Task identity"},
      {"--identifier", "Task identity"},
      {"--filter", "Task identity"},
      {"--supernode", "Damselfly"},
      {"--daemon-socket", "Damselfly"},
      {"--standalone", "Damselfly"},
      {"--no-back-source", "Damselfly"},
      {"--parallel", "Damselfly"},
      {"--progress", "Output"},
      {"--showbar", "Output"},
      {"--log-level", "Output"},
  };
  for (auto* opt : app.get_options()) {
    if (auto it = groups.find(opt->get_name()); it != groups.end()) opt->group(it->second);
  }

  std::string cache_action, cache_task;
  auto* cache_cmd =
      app.add_subcommand("cache", "List, remove or garbage-collect the daemon's cached tasks");
  cache_cmd->add_option("action", cache_action, "list, rm or gc")
      ->required()
      ->check(CLI::IsMember({"list", "rm", "gc"}));
  cache_cmd->add_option("task", cache_task, "The task id to remove (rm)");
  cache_cmd->fallthrough();
  add_yaml_config_option(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_usage;
  }
  if (daemon_cmd->parsed()) {
    if (setup_logging("dfget-daemon", daemon_log_level, daemon_log_file))
      return fail(exit_usage, "bad --log-level or unwritable --log-file");
    for (const auto& s : daemon_supernodes) {
      auto hp = host_port::parse(s);
      if (!hp || hp->port == 0)
        return fail(exit_usage, "bad --supernode '" + s + "': expected HOST:PORT");
      dcfg.supernodes.push_back(*hp);
    }
    if (!host_port::parse(dcfg.listen))
      return fail(exit_usage, "bad --listen '" + dcfg.listen + "'");
    auto up = parse_size(upload_rate);
    auto down = parse_size(download_rate);
    auto total = parse_size(daemon_total_limit);
    if (!up || !down || !total) return fail(exit_usage, "rates are sizes per second like 8M, or 0");
    dcfg.upload_rate = *up;
    dcfg.download_rate = *down;
    dcfg.total_download_rate = *total;
    auto quota = parse_size(cache_quota);
    auto floor = parse_size(min_free);
    if (!quota || !floor)
      return fail(exit_usage, "--cache-quota and --min-free are sizes like 50G, or 0");
    dcfg.cache_quota = *quota;
    dcfg.min_free = *floor;
    dcfg.cache_ttl = std::chrono::seconds(cache_ttl_s);
    dcfg.idle_exit = std::chrono::seconds(daemon_idle_exit_s);
    return run_daemon(dcfg);
  }
  if (setup_logging("dfget", log_level))
    return fail(exit_usage, "unknown --log-level " + log_level);
  if (cache_cmd->parsed()) {
    proto::local_request creq;
    creq.command = cache_action == "list" ? proto::local_command::cache_list
                   : cache_action == "rm"   ? proto::local_command::cache_rm
                                            : proto::local_command::cache_gc;
    creq.task = cache_task;
    if (cache_action == "rm" && cache_task.empty())
      return fail(exit_usage, "cache rm needs a task id");
    std::string socket_path =
        daemon_socket.empty() ? dfget::default_daemon_socket().string() : daemon_socket;
    auto verdict = dfget::run_via_daemon(socket_path, creq, {}, std::chrono::seconds(30));
    if (!verdict) return fail(exit_supernode, "no dfget daemon answers on " + socket_path);
    if (verdict->event == proto::local_event_kind::error)
      return fail(verdict->exit_code, verdict->message);
    if (cache_action == "list") {
      std::printf("%-64s %14s %-8s %-20s %s\n", "TASK", "BYTES", "COMPLETE", "LAST USED", "URL");
      for (const auto& t : verdict->tasks) {
        char when[32] = "-";
        std::time_t tt = static_cast<std::time_t>(t.last_used);
        std::tm tm{};
        if (t.last_used > 0 && ::gmtime_r(&tt, &tm))
          std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        std::printf("%-64s %14llu %-8s %-20s %s\n", t.task_id.c_str(),
                    static_cast<unsigned long long>(t.bytes), t.complete ? "yes" : "no", when,
                    t.url.c_str());
      }
    } else {
      std::printf("removed %zu task(s), %s\n", verdict->tasks.size(),
                  human_bytes(static_cast<double>(verdict->bytes)).c_str());
    }
    return exit_ok;
  }
  dfget::progress_mode pmode =
      ::isatty(STDERR_FILENO) ? dfget::progress_mode::bar : dfget::progress_mode::none;
  if (showbar) pmode = dfget::progress_mode::bar;
  if (!progress_text.empty() && !dfget::parse_progress_mode(progress_text, pmode))
    return fail(exit_usage, "bad --progress '" + progress_text + "': expected bar, json or none");
  if (quiet && pmode == dfget::progress_mode::bar) pmode = dfget::progress_mode::none;
  dfget::progress_printer printer(pmode);
  auto fail_download = [&](int code, const std::string& message) {
    printer.failed(code, message);
    return fail(code, message);
  };
  auto rate = parse_size(limit_rate);
  if (!rate)
    return fail(exit_usage, "bad --limit-rate '" + limit_rate + "': expected a size like 20M");
  auto total_rate = parse_size(total_limit);
  if (!total_rate)
    return fail(exit_usage, "bad --totallimit '" + total_limit + "': expected a size like 100M");
  if (!tls.ca_file.empty()) tls.ca_file = std::filesystem::absolute(tls.ca_file).string();
  std::string tls_why;
  auto origin_tls = tls_context::create(tls, &tls_why);
  if (!origin_tls) return fail(exit_usage, tls_why);

  if (!url_flag.empty()) {
    if (!url.empty() && url != url_flag) return fail(exit_usage, "two different URLs given");
    url = url_flag;
  }
  if (url.empty()) return fail(exit_usage, "no URL given (dfget URL -O FILE)");
  auto parsed_url = http_url::parse(url);
  if (!parsed_url) return fail(exit_usage, "not an absolute http(s) URL: " + url);

  namespace fs = std::filesystem;
  dfget::download_request req;
  req.identity.url = url;
  req.origin_tls = *origin_tls;
  req.identity.tag = tag;
  req.identity.identifier = identifier;
  req.identity.filters = split_filter_list(filter_text);
  if (!digest_text.empty() && !md5_text.empty())
    return fail(exit_usage, "give either --digest or --md5, not both");
  if (!md5_text.empty()) digest_text = "md5:" + md5_text;
  if (!digest_text.empty()) {
    auto spec = digest_spec::parse(digest_text);
    if (!spec)
      return fail(exit_usage,
                  "bad digest '" + digest_text + "': expected sha256:<64 hex> or md5:<32 hex>");
    req.digest = *spec;
    req.identity.digest = spec->to_string();
  }
  for (const auto& h : headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0)
      return fail(exit_usage, "bad --header '" + h + "': expected 'Name: value'");
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    req.headers[h.substr(0, colon)] = value;
  }

  dfget::downloader_options opts;
  opts.parallel = parallel;
  opts.total_timeout = std::chrono::seconds(timeout_s);
  for (const auto& s : supernodes) {
    auto hp = host_port::parse(s);
    if (!hp || hp->port == 0)
      return fail(exit_usage, "bad --supernode '" + s + "': expected HOST:PORT");
    opts.supernodes.push_back(*hp);
  }
  // With supernodes to give it, dfget works through a daemon (starting one when
  // none answers); --standalone, or nothing to start a daemon with, keeps it in-process.
  bool via_daemon = !standalone && (!daemon_socket.empty() || !opts.supernodes.empty());
  if (daemon_socket.empty()) daemon_socket = dfget::default_daemon_socket().string();
  if (via_daemon && !opts.supernodes.empty()) {
    dfget::daemon_launch launch;
    launch.executable = fs::read_symlink("/proc/self/exe");
    launch.socket = daemon_socket;
    launch.data_dir =
        daemon_data_dir.empty() ? dfget::default_daemon_data_dir() : fs::path(daemon_data_dir);
    launch.listen = daemon_listen;
    launch.supernodes = supernodes;
    launch.idle_exit_seconds = idle_exit_s;
    launch.total_limit = total_limit;
    if (auto ec = dfget::ensure_daemon(launch, std::chrono::seconds(15))) {
      spdlog::warn(
          "no dfget daemon on {} and none could be started ({}; see {}); downloading in-process",
          daemon_socket, ec.message(), (launch.data_dir / "daemon.log").string());
      via_daemon = false;
    }
  }
  opts.back_to_source = !no_back_source;
  opts.download_rate = *rate;
  if (*total_rate > 0 && (opts.download_rate == 0 || *total_rate < opts.download_rate))
    opts.download_rate = *total_rate;  // one download in-process: the total is its own cap
  opts.max_piece_attempts = tries;
  if (opts.supernodes.empty() && !via_daemon && no_back_source)
    return fail(exit_usage,
                "no supernode configured (--supernode HOST:PORT) and --no-back-source given");

  fs::path out_path = output;
  if (output.empty()) {
    return fail(exit_usage, "no output given (-O FILE)");
  }
  std::error_code fec;
  if (fs::is_directory(out_path, fec)) {
    std::string name =
        fs::path(parsed_url->target.substr(0, parsed_url->target.find('?'))).filename();
    out_path /= name.empty() ? "index.html" : name;
  }
  if (via_daemon) {
    proto::local_request lreq;
    lreq.identity = req.identity;
    lreq.output = fs::absolute(out_path).string();
    lreq.headers = req.headers;
    lreq.no_back_source = no_back_source;
    lreq.ca_cert = tls.ca_file;
    lreq.insecure = tls.insecure;
    lreq.limit_rate = *rate;
    if (!fs::is_directory(fs::absolute(out_path).parent_path(), fec))
      return fail(exit_local_io, "cannot create " + out_path.string() + ": no such directory");
    const std::function<void(const proto::local_event&)> show = [&](const proto::local_event& e) {
      printer.update(e.bytes, e.total);
    };
    auto verdict =
        dfget::run_via_daemon(daemon_socket, lreq, show, std::chrono::seconds(timeout_s));
    if (!verdict) {
      if (verdict.error() == errc::supernode_unreachable)
        return fail_download(exit_supernode, "no dfget daemon answers on " + daemon_socket);
      if (verdict.error() == errc::timeout)
        return fail_download(exit_timeout,
                             "download did not finish within " + std::to_string(timeout_s) + " s");
      return fail_download(exit_internal, "the daemon broke off: " + verdict.error().message());
    }
    if (verdict->event == proto::local_event_kind::error)
      return fail_download(verdict->exit_code, verdict->message);
    printer.done(verdict->bytes, std::chrono::milliseconds(verdict->elapsed_ms),
                 verdict->from_supernode, verdict->from_peers, 0);
    if (!quiet) {
      double secs = std::max<double>(static_cast<double>(verdict->elapsed_ms), 1) / 1000.0;
      std::fprintf(stderr,
                   "dfget: %s saved: %s in %.2f s (%s/s); from supernode %s, from peers %s\n",
                   out_path.c_str(), human_bytes(static_cast<double>(verdict->bytes)).c_str(), secs,
                   human_bytes(static_cast<double>(verdict->bytes) / secs).c_str(),
                   human_bytes(static_cast<double>(verdict->from_supernode)).c_str(),
                   human_bytes(static_cast<double>(verdict->from_peers)).c_str());
    }
    return exit_ok;
  }
  auto out =
      resume ? dfget::output_file::open_resumable(out_path) : dfget::output_file::create(out_path);
  if (!out) {
    if (out.error() == errc::busy)
      return fail(exit_local_io, "another dfget is downloading " + out_path.string());
    return fail(exit_local_io, "cannot create " + out_path.string() + ": " + out.error().message());
  }
  // -c: what was verified before an interruption is kept beside the temporary.
  std::optional<dfget::resume_record> record;
  std::string task_id;
  if (resume) {
    record.emplace((*out)->temp_path());
    auto id = make_task_id(req.identity);
    task_id = id ? *id : url;
    auto kept = record->load();
    if (kept && kept->task_id == task_id) {
      req.have = kept->have;
      req.version = kept->version;
      req.piece_size = kept->piece_size;
    }
  }

  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  // Interrupted: nothing at the output path; the temporary goes too unless -c
  // keeps it. The download is cancelled and unwinds; then dfget exits 128+signal.
  boost::asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  boost::asio::cancellation_signal cancel_download;
  int interrupted_by = 0;
  stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    interrupted_by = sig;
    std::fprintf(stderr, "dfget: interrupted%s\n",
                 resume ? "; run the same command with -c to resume" : "");
    cancel_download.emit(boost::asio::cancellation_type::terminal);
  });
  dfget::downloader engine(io.get_executor(), opts);
  dfget::download_outcome outcome;
  std::string recorded_version = req.version;
  std::uint64_t recorded_piece_size = req.piece_size;
  const std::function<void(const dfget::download_progress&)> show =
      [&](const dfget::download_progress& p) {
        if (record && p.piece_size > 0 && p.total_bytes >= 0 &&
            (p.version != recorded_version || p.piece_size != recorded_piece_size)) {
          recorded_version = p.version;
          recorded_piece_size = p.piece_size;
          if (auto ec = record->start({task_id, p.version, p.piece_size, p.total_bytes, {}}))
            spdlog::warn("cannot record the download's layout for -c: {}", ec.message());
        }
        printer.update(p.bytes_done, p.total_bytes);
      };
  const std::function<void(std::uint64_t)> on_piece = [&](std::uint64_t piece) {
    if (record && !recorded_version.empty()) (void)record->mark(piece);
  };
  auto run_engine = [&] {
    boost::asio::co_spawn(io, engine.run(req, **out, show, on_piece),
                          boost::asio::bind_cancellation_slot(
                              cancel_download.slot(),
                              [&](std::exception_ptr ep, dfget::download_outcome o) {
                            stop_signals.cancel();
                            if (ep) {
                              outcome.ec = errc::io_error;
                              outcome.message = "internal error";
                            } else {
                              outcome = std::move(o);
                            }
                          }));
    io.run();
  };
  run_engine();
  if (interrupted_by != 0) {
    if (resume) (*out)->keep();  // the verified pieces and their record stay for -c
    return 128 + interrupted_by;
  }
  if (outcome.ec == errc::source_changed && !req.have.empty() && interrupted_by == 0) {
    // The kept pieces belong to an older file: start over once.
    spdlog::info("the source changed since the kept pieces were written; starting over");
    record->remove();
    req.have.clear();
    req.version.clear();
    req.piece_size = 0;
    recorded_version.clear();
    recorded_piece_size = 0;
    io.restart();
    run_engine();
  }

  if (outcome.ec) {
    bool worth_keeping = outcome.ec != errc::digest_mismatch &&
                         outcome.ec != errc::source_changed && outcome.ec != errc::invalid_argument;
    if (record && worth_keeping) {
      (*out)->keep();
      printer.failed(exit_code_for(outcome.ec), outcome.message);
      return fail(exit_code_for(outcome.ec),
                  outcome.message +
                      "; the verified pieces are kept: run the same command with "
                      "-c to resume");
    }
    if (record) record->remove();
    return fail_download(exit_code_for(outcome.ec), outcome.message);
  }
  const auto length = outcome.summary.content_length >= 0
                          ? static_cast<std::uint64_t>(outcome.summary.content_length)
                          : outcome.summary.bytes;
  if (auto ec = (*out)->commit(length))
    return fail_download(exit_local_io,
                         "cannot publish " + out_path.string() + ": " + ec.message());
  if (record) record->remove();
  printer.done(outcome.summary.bytes, outcome.summary.elapsed, outcome.summary.from_supernode,
               outcome.summary.from_peers, outcome.summary.from_origin);
  if (!quiet) {
    double secs = std::max<double>(outcome.summary.elapsed.count(), 1) / 1000.0;
    std::fprintf(
        stderr,
        "dfget: %s saved: %s in %.2f s (%s/s); from supernode %s, from peers %s, from origin %s\n",
        out_path.c_str(), human_bytes(static_cast<double>(outcome.summary.bytes)).c_str(), secs,
        human_bytes(static_cast<double>(outcome.summary.bytes) / secs).c_str(),
        human_bytes(static_cast<double>(outcome.summary.from_supernode)).c_str(),
        human_bytes(static_cast<double>(outcome.summary.from_peers)).c_str(),
        human_bytes(static_cast<double>(outcome.summary.from_origin)).c_str());
  }
  return exit_ok;
}
