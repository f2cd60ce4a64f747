// SPDX-License-Identifier: Apache-2.0
// `dfget URL -O FILE`: checking the flags, then the download through a daemon or in-process.
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cctype>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "commands.hpp"
#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/file_io.hpp"
#include "damselfly/common/host_identity.hpp"
#include "damselfly/common/http_message.hpp"
#include "damselfly/common/logging.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/task_id.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/url.hpp"
#include "damselfly/dfget/daemon_client.hpp"
#include "damselfly/dfget/daemon_launcher.hpp"
#include "damselfly/dfget/downloader.hpp"
#include "damselfly/dfget/exit_codes.hpp"
#include "damselfly/dfget/origin_probe.hpp"
#include "damselfly/dfget_storage/output_file.hpp"
#include "damselfly/dfget_storage/resume_record.hpp"
#include "damselfly/proto/checks.hpp"
#include "damselfly/proto/supernode_list.hpp"
#include "output_target.hpp"
#include "progress_printer.hpp"
#include "summary.hpp"

namespace damselfly::dfget {

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

/// A download whose flags have been checked.
struct download_job {
  download_request req;
  downloader_options opts;
  output_target target;
  bool via_daemon = false;
  std::string daemon_socket;
  std::uint64_t limit_rate = 0;
  std::uint64_t total_limit = 0;  ///< --totallimit, bytes/s
  std::string failure;            ///< the last attempt's failure, for deciding on another
  unsigned tries = 1;             ///< -t: attempts at the whole download; 0: no limit
  std::chrono::seconds wait_retry{10};
  bool server_timestamps = true;

  /// The time the output file takes: the origin's Last-Modified, as wget does.
  std::optional<std::int64_t> mtime_of(const std::string& last_modified) const {
    if (!server_timestamps || last_modified.empty()) return std::nullopt;
    return parse_http_date(last_modified);
  }
};

/// What to download: URL, identity, digest, origin headers and trust. An exit
/// code when a flag is bad (reported already).
std::optional<int> check_request(download_flags& f, download_job& job) {
  if (!f.tls.ca_file.empty()) f.tls.ca_file = fs::absolute(f.tls.ca_file).string();
  // Trust settings of one's own are checked now (a bad --ca-cert is a usage
  // error before anything is fetched). The system store is not loaded here:
  // it costs ~10 ms at every start, a download through the daemon never uses
  // it, and an https origin reached in-process loads it when it connects.
  std::shared_ptr<const tls_context> origin_tls;
  if (f.tls.insecure || !f.tls.ca_file.empty() || !f.tls.client_cert.empty()) {
    std::string tls_why;
    auto ctx = tls_context::create(f.tls, &tls_why);
    if (!ctx) return fail(exit_usage, tls_why);
    origin_tls = *ctx;
  }
  if (!f.url_flag.empty()) {
    if (!f.url.empty() && f.url != f.url_flag) return fail(exit_usage, "two different URLs given");
    f.url = f.url_flag;
  }
  if (f.url.empty()) return fail(exit_usage, "no URL given (dfget URL -O FILE)");
  // "user:password@" leaves the URL (it would be part of the task's identity
  // and of every log line) and becomes HTTP Basic credentials, as --user/--password.
  if (auto creds = split_url_credentials(f.url)) {
    f.url = creds->url;
    if (f.user.empty()) f.user = creds->user;
    if (f.password.empty()) f.password = creds->password;
  }
  if (!http_url::parse(f.url)) return fail(exit_usage, "not an absolute http(s) URL: " + f.url);
  auto& req = job.req;
  req.identity = {f.url, split_filter_list(f.filter), f.tag, "", f.identifier, ""};
  req.origin_tls = origin_tls;
  if (!f.digest.empty() && !f.md5.empty())
    return fail(exit_usage, "give either --digest or --md5, not both");
  std::string digest_text = f.md5.empty() ? f.digest : "md5:" + f.md5;
  if (!digest_text.empty()) {
    auto spec = digest_spec::parse(digest_text);
    if (!spec)
      return fail(exit_usage,
                  "bad digest '" + digest_text + "': expected sha256:<64 hex> or md5:<32 hex>");
    req.digest = *spec;
    req.identity.digest = spec->to_string();
  }
  if (auto bad = parse_header_flags(f.headers, req.headers))
    return fail(exit_usage, "bad --header '" + *bad + "': expected 'Name: value'");
  bool has_authorization = std::any_of(req.headers.begin(), req.headers.end(), [](const auto& h) {
    return iequals(h.first, "authorization");
  });
  if ((!f.user.empty() || !f.password.empty()) && !has_authorization)
    req.headers["Authorization"] = basic_authorization(f.user, f.password);

  if (auto bad = proto::check_origin_headers(req.headers))
    return fail(exit_usage, "--header '" + bad->name + "' " + bad->why);
  return std::nullopt;
}

/// With supernodes to give it, dfget works through a daemon, starting one
/// when none answers; false when that failed (then the download runs in-process).
bool reach_daemon(const download_flags& f, const std::string& socket) {
  daemon_launch launch;
  launch.executable = fs::read_symlink("/proc/self/exe");
  launch.socket = socket;
  launch.data_dir =
      f.daemon_data_dir.empty() ? default_daemon_data_dir() : fs::path(f.daemon_data_dir);
  launch.listen = f.daemon_listen;
  launch.supernodes = f.supernodes;
  launch.idle_exit_seconds = f.idle_exit_s;
  launch.total_limit = f.total_limit;
  if (!f.token_file.empty()) launch.token_file = fs::absolute(f.token_file);
  if (!f.cluster.ca_file.empty()) launch.cluster_ca = fs::absolute(f.cluster.ca_file);
  if (!f.cluster.client_cert.empty()) {
    launch.client_cert = fs::absolute(f.cluster.client_cert);
    launch.client_key = fs::absolute(f.cluster.client_key);
  }
  if (auto ec = ensure_daemon(launch, std::chrono::seconds(15))) {
    auto log = launch.data_dir / "daemon.log";
    std::error_code fec;
    std::string why = ec == error_code(ECHILD, boost::system::system_category())
                          ? "it exited as it started"
                          : ec.message();
    if (fs::exists(log, fec)) why += "; see " + log.string();
    spdlog::warn("no dfget daemon on {} and none could be started ({}); downloading in-process",
                 socket, why);
    return false;
  }
  return true;
}

/// How long and how often: --timeout, --connect-timeout, -T, -t, --waitretry.
std::optional<int> check_timing(const download_flags& f, download_job& job) {
  auto& opts = job.opts;
  auto total = parse_duration(f.timeout);
  if (!total)
    return fail(exit_usage, "bad --timeout '" + f.timeout + "': expected 90, 30s, 5m or 1h");
  auto connect = parse_duration(f.connect_timeout);
  if (!connect || connect->count() == 0)
    return fail(exit_usage,
                "bad --connect-timeout '" + f.connect_timeout + "': expected 5s or 500ms");
  auto read = parse_duration(f.read_timeout);
  if (!read || read->count() == 0)
    return fail(exit_usage, "bad --read-timeout '" + f.read_timeout + "': expected 30s or 2m");
  opts.total_timeout = *total;
  opts.connect_timeout = *connect;
  opts.io_timeout = *read;
  opts.max_piece_attempts = f.piece_tries;
  if (f.tries == "inf") {
    job.tries = 0;
  } else {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(f.tries.data(), f.tries.data() + f.tries.size(), n);
    if (ec != std::errc() || end != f.tries.data() + f.tries.size() || n > 10000)
      return fail(exit_usage, "bad --tries '" + f.tries + "': expected a count, 0 or inf");
    job.tries = n;
  }
  auto wait = parse_duration(f.wait_retry);
  if (!wait) return fail(exit_usage, "bad --waitretry '" + f.wait_retry + "': expected 10s or 1m");
  job.wait_retry =
      std::max(std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(*wait));
  job.server_timestamps = !f.no_server_timestamps;
  return std::nullopt;
}

/// How and where: supernodes, rates, the daemon or not, the output path.
std::optional<int> check_route(const download_flags& f, download_job& job) {
  auto rate = parse_size(f.limit_rate);
  if (!rate)
    return fail(exit_usage, "bad --limit-rate '" + f.limit_rate + "': expected a size like 20M");
  auto total_rate = parse_size(f.total_limit);
  if (!total_rate)
    return fail(exit_usage, "bad --totallimit '" + f.total_limit + "': expected a size like 100M");
  auto& opts = job.opts;
  if (!f.token_file.empty()) {
    std::string why;
    auto token = load_token_file(f.token_file, &why);
    if (!token) return fail(exit_usage, why);
    opts.cluster_token = std::move(*token);
  }
  opts.parallel = f.parallel;
  opts.on_fallback = [](const std::string& why) {
    std::fprintf(stderr, "dfget: warning: %s\n", why.c_str());
  };
  bool any_https = false;
  for (const auto& s : f.supernodes) {
    bool https = false;
    auto hp = proto::parse_supernode_address(s, https);
    if (!hp)
      return fail(exit_usage,
                  "bad --supernode '" + s + "': expected HOST:PORT or https://HOST:PORT");
    any_https = any_https || https;
    opts.supernodes.push_back(*hp);
  }
  // One cluster, one mode: TLS to every supernode and peer, or to none.
  if (any_https || !f.cluster.ca_file.empty()) {
    std::string why;
    auto ctx = tls_context::create(f.cluster, &why);
    if (!ctx) return fail(exit_usage, why);
    opts.cluster_tls = *ctx;
  }
  // With TLS a supernode is verified by the name it is listed by: no expansion.
  if (!opts.cluster_tls)
    opts.supernodes = proto::expand_supernodes(opts.supernodes, resolve_addresses);
  // --standalone, or nothing to start a daemon with, keeps the download in-process.
  job.via_daemon = !f.standalone && (!f.daemon_socket.empty() || !opts.supernodes.empty());
  job.daemon_socket = f.daemon_socket.empty() ? default_daemon_socket().string() : f.daemon_socket;
  if (job.via_daemon && f.daemon_socket.empty() && ::geteuid() != 0) {
    // The default socket of a user's own daemon: whoever could place a
    // socket there would receive this download's headers.
    std::string why;
    if (make_private_dir(fs::path(job.daemon_socket).parent_path(), &why))
      return fail(exit_local_io, why);
  }
  if (job.via_daemon && !opts.supernodes.empty())
    job.via_daemon = reach_daemon(f, job.daemon_socket);
  opts.back_to_source = !f.no_back_source;
  job.limit_rate = *rate;
  job.total_limit = *total_rate;
  opts.download_rate = *rate;
  if (*total_rate > 0 && (opts.download_rate == 0 || *total_rate < opts.download_rate))
    opts.download_rate = *total_rate;  // one download in-process: the total is its own cap
  if (opts.supernodes.empty() && !job.via_daemon && f.no_back_source)
    return fail(exit_usage,
                "no supernode configured (--supernode HOST:PORT) and --no-back-source given");
  return std::nullopt;
}

/// Where the bytes go (-O, -P, or the URL's name); with --no-clobber, an
/// existing file ends the run here (exit 0).
std::optional<int> check_output(const download_flags& f, download_job& job) {
  std::string why;
  auto target = output_target::resolve(f.output, f.directory_prefix, f.url, why);
  if (!target) return fail(f.output.empty() ? exit_usage : exit_local_io, why);
  job.target = std::move(*target);
  if (f.no_clobber && job.target.exists) {
    std::fprintf(stderr, "dfget: %s is already there; not retrieving (--no-clobber)\n",
                 job.target.display.c_str());
    return exit_ok;
  }
  return std::nullopt;
}

volatile std::sig_atomic_t g_daemon_client_signal = 0;

void note_signal(int sig) {
  g_daemon_client_signal = sig;
}

int via_daemon(const download_flags& f, download_job& job, progress_printer& printer) {
  auto fail_download = [&](int code, const std::string& message) {
    job.failure = message;
    printer.failed(code, message);
    return fail(code, message);
  };
  proto::local_request lreq;
  lreq.identity = job.req.identity;
  lreq.output = job.target.to_stdout() ? "-" : fs::absolute(job.target.path).string();
  lreq.headers = job.req.headers;
  lreq.no_back_source = f.no_back_source;
  lreq.insecure = f.tls.insecure;
  lreq.limit_rate = job.limit_rate;
  lreq.supernodes = f.supernodes;
  // -T, --connect-timeout, --parallel and --piece-tries hold for this download
  // through the daemon too; --totallimit is the daemon's own.
  auto ms = [](std::chrono::milliseconds d) {
    return static_cast<std::uint32_t>(std::min<std::int64_t>(d.count(), 3'600'000));
  };
  lreq.connect_timeout_ms = ms(job.opts.connect_timeout);
  lreq.read_timeout_ms = ms(job.opts.io_timeout);
  lreq.parallel = f.parallel;
  lreq.piece_tries = f.piece_tries;
  lreq.total_limit = job.total_limit;
  // A file output may be the daemon's cached file itself (a hard link, not a
  // second copy). Not with --no-use-server-timestamps: the cache's file keeps
  // the origin's time, which this output then could not leave.
  lreq.accept_shared = job.target.what == output_target::kind::file && job.server_timestamps;
  if (!f.tls.ca_file.empty()) {
    // Read here, with this user's rights: the daemon opens no path for clients.
    auto pem = read_small_file(f.tls.ca_file, 1 << 20);
    if (!pem)
      return fail(exit_usage,
                  "cannot read --ca-cert " + f.tls.ca_file + ": " + pem.error().message());
    lreq.ca_pem = std::move(*pem);
  }
  // The output is this user's file from the start: created here, filled by
  // the daemon through the descriptor, published here.
  auto out = job.target.open(false);
  if (!out)
    return fail(exit_local_io,
                "cannot create " + job.target.display + ": " + out.error().message());
  const std::function<void(const proto::local_event&)> show = [&](const proto::local_event& e) {
    printer.update(e.bytes, e.total);
  };
  // SIGINT/SIGTERM end the wait (not the daemon's download, which it keeps
  // for the next run): the temporary goes, and dfget says so.
  struct sigaction on_signal {};
  on_signal.sa_handler = note_signal;  // no SA_RESTART: poll() returns EINTR
  ::sigaction(SIGINT, &on_signal, nullptr);
  ::sigaction(SIGTERM, &on_signal, nullptr);
  const std::function<bool()> interrupted = [] { return g_daemon_client_signal != 0; };
  auto start = std::chrono::steady_clock::now();
  unique_fd shared;
  auto verdict = run_via_daemon(job.daemon_socket, lreq, (*out)->fd(), show, job.opts.total_timeout,
                                interrupted, &shared);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  if (!verdict && verdict.error() == errc::cancelled) {
    std::fprintf(stderr,
                 "dfget: interrupted; the daemon goes on with the download and keeps it for the "
                 "next run\n");
    return 128 + g_daemon_client_signal;
  }
  if (!verdict) {
    if (verdict.error() == errc::supernode_unreachable)
      return fail_download(exit_supernode, "no dfget daemon answers on " + job.daemon_socket);
    if (verdict.error() == errc::timeout)
      return fail_download(exit_timeout, "download did not finish within " + f.timeout);
    return fail_download(exit_internal, "the daemon broke off: " + verdict.error().message());
  }
  if (verdict->event == proto::local_event_kind::error)
    return fail_download(verdict->exit_code, verdict->message);
  if (shared) {
    if (auto ec = (*out)->take_shared(shared.get(), verdict->bytes))
      return fail_download(exit_local_io,
                           "cannot write " + job.target.display + ": " + ec.message());
  }
  std::string why;
  if (job.target.publish(**out, verdict->bytes, job.mtime_of(verdict->last_modified), why))
    return fail_download(exit_local_io, why);
  if (!verdict->warning.empty())
    std::fprintf(stderr, "dfget: warning: %s\n", verdict->warning.c_str());
  if (verdict->from_origin > 0)
    std::fprintf(stderr,
                 "dfget: warning: the daemon reached no supernode; it downloaded from the "
                 "origin\n");
  // This client's own wall time: a download it joined midway took the daemon
  // longer than that, one already cached no time at all.
  printer.done(verdict->bytes, took, verdict->from_supernode, verdict->from_peers,
               verdict->from_origin);
  if (!f.quiet)
    print_summary(job.target.display,
                  {verdict->bytes, took, verdict->from_supernode, verdict->from_peers,
                   verdict->from_origin, 0, verdict->failovers});
  return exit_ok;
}

/// An in-process download: the engine writes into the output's temporary file.
class in_process_download {
 public:
  in_process_download(const download_flags& f, download_job& job, progress_printer& printer)
      : f_(f),
        job_(job),
        printer_(printer),
        resume_(f.resume && job.target.what == output_target::kind::file) {}

  int run();

 private:
  void load_resume_record();
  /// Runs the engine once; SIGINT/SIGTERM cancel it.
  void run_engine();
  int finish();
  int fail_download(int code, const std::string& message) {
    job_.failure = message;
    printer_.failed(code, message);
    return fail(code, message);
  }

  const download_flags& f_;
  download_job& job_;
  progress_printer& printer_;
  bool resume_;  ///< -c, for a file output (a stream has nothing to resume into)
  std::unique_ptr<output_file> out_;
  std::optional<resume_record> record_;  ///< -c: what was verified before an interruption
  std::string task_id_;
  std::string recorded_version_;
  std::uint64_t recorded_piece_size_ = 0;
  download_outcome outcome_;
  int interrupted_by_ = 0;
};

void in_process_download::load_resume_record() {
  auto& req = job_.req;
  record_.emplace(out_->temp_path());
  auto id = make_task_id(req.identity);
  task_id_ = id ? *id : req.identity.url;
  auto kept = record_->load();
  if (kept && kept->task_id == task_id_) {
    req.have = kept->have;
    req.version = kept->version;
    req.piece_size = kept->piece_size;
  }
  recorded_version_ = req.version;
  recorded_piece_size_ = req.piece_size;
}

void in_process_download::run_engine() {
  asio::io_context io(1);
  // Interrupted: nothing at the output path; the temporary goes too unless -c
  // keeps it. The download is cancelled and unwinds; dfget exits 128+signal.
  asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  asio::cancellation_signal cancel_download;
  stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    interrupted_by_ = sig;
    std::fprintf(stderr, "dfget: interrupted%s\n",
                 resume_ ? "; run the same command with -c to resume" : "");
    cancel_download.emit(asio::cancellation_type::terminal);
  });
  downloader engine(io.get_executor(), job_.opts);
  const std::function<void(const download_progress&)> show = [&](const download_progress& p) {
    if (record_ && p.piece_size > 0 && p.total_bytes >= 0 &&
        (p.version != recorded_version_ || p.piece_size != recorded_piece_size_)) {
      recorded_version_ = p.version;
      recorded_piece_size_ = p.piece_size;
      if (auto ec = record_->start({task_id_, p.version, p.piece_size, p.total_bytes, {}}))
        spdlog::warn("cannot record the download's layout for -c: {}", ec.message());
    }
    printer_.update(p.bytes_done, p.total_bytes);
  };
  const std::function<void(std::uint64_t)> on_piece = [&](std::uint64_t piece) {
    if (record_ && !recorded_version_.empty()) (void)record_->mark(piece);
  };
  asio::co_spawn(io, engine.run(job_.req, *out_, show, on_piece),
                 asio::bind_cancellation_slot(cancel_download.slot(),
                                              [&](std::exception_ptr ep, download_outcome o) {
                                                stop_signals.cancel();
                                                if (ep) {
                                                  outcome_.ec = errc::io_error;
                                                  outcome_.message = "internal error";
                                                } else {
                                                  outcome_ = std::move(o);
                                                }
                                              }));
  io.run();
}

int in_process_download::run() {
  auto opened = job_.target.open(resume_);
  if (!opened) {
    if (opened.error() == errc::busy)
      return fail(exit_local_io, "another dfget is downloading " + job_.target.display);
    return fail(exit_local_io,
                "cannot create " + job_.target.display + ": " + opened.error().message());
  }
  out_ = std::move(*opened);
  if (resume_) load_resume_record();
  std::signal(SIGPIPE, SIG_IGN);
  run_engine();
  if (interrupted_by_ == 0 && outcome_.ec == errc::source_changed && !job_.req.have.empty()) {
    // The kept pieces belong to an older file: start over once.
    spdlog::info("the source changed since the kept pieces were written; starting over");
    record_->remove();
    job_.req.have.clear();
    job_.req.version.clear();
    job_.req.piece_size = 0;
    recorded_version_.clear();
    recorded_piece_size_ = 0;
    run_engine();
  }
  if (interrupted_by_ != 0) {
    if (resume_) out_->keep();  // the verified pieces and their record stay for -c
    return 128 + interrupted_by_;
  }
  return finish();
}

int in_process_download::finish() {
  if (outcome_.ec) {
    bool worth_keeping = outcome_.ec != errc::digest_mismatch &&
                         outcome_.ec != errc::source_changed &&
                         outcome_.ec != errc::invalid_argument;
    if (record_ && worth_keeping) {
      out_->keep();
      job_.failure = outcome_.message;
      printer_.failed(exit_code_for(outcome_.ec), outcome_.message);
      return fail(exit_code_for(outcome_.ec),
                  outcome_.message +
                      "; the verified pieces are kept: run the same command with -c to resume");
    }
    if (record_) record_->remove();
    return fail_download(exit_code_for(outcome_.ec), outcome_.message);
  }
  const auto& s = outcome_.summary;
  const auto length =
      s.content_length >= 0 ? static_cast<std::uint64_t>(s.content_length) : s.bytes;
  std::string why;
  if (job_.target.publish(*out_, length, job_.mtime_of(s.last_modified), why))
    return fail_download(exit_local_io, why);
  if (record_) record_->remove();
  printer_.done(s.bytes, s.elapsed, s.from_supernode, s.from_peers, s.from_origin);
  if (!f_.quiet)
    print_summary(job_.target.display, {s.bytes, s.elapsed, s.from_supernode, s.from_peers,
                                        s.from_origin, s.resumed_bytes, s.failovers});
  return exit_ok;
}

}  // namespace

namespace {

/// Whether another attempt may go better: the network, a server's error or
/// a broken-off daemon may pass; a 4xx answer, bad flags, a digest that does
/// not match or the local disk will not.
bool worth_retrying(int code, const std::string& failure) {
  if (code == exit_origin) return failure.find("answered 4") == std::string::npos;
  return code == exit_supernode || code == exit_internal;
}

/// Waits before attempt `next`; false when SIGINT or SIGTERM came meanwhile.
bool pause_before(unsigned next, std::chrono::seconds pause) {
  std::fprintf(stderr, "dfget: trying again in %lld s (attempt %u)\n",
               static_cast<long long>(pause.count()), next);
  struct sigaction on_signal {};
  on_signal.sa_handler = note_signal;
  ::sigaction(SIGINT, &on_signal, nullptr);
  ::sigaction(SIGTERM, &on_signal, nullptr);
  auto until = std::chrono::steady_clock::now() + pause;
  while (g_daemon_client_signal == 0 && std::chrono::steady_clock::now() < until) ::usleep(50'000);
  return g_daemon_client_signal == 0;
}

/// --spider, -S and -N look at the origin itself before (or instead of) a
/// download. A code when the run ends here.
std::optional<int> look_at_origin(const download_flags& f, download_job& job) {
  if (!f.spider && !f.server_response && !f.timestamping) return std::nullopt;
  std::function<void(const std::string&)> show;
  if (f.server_response)
    show = [](const std::string& text) { std::fprintf(stderr, "%s", text.c_str()); };
  auto seen = probe_origin(job.req, job.opts, show);
  if (f.spider) {
    if (seen.ec) return fail(exit_code_for(seen.ec), seen.message);
    if (!f.quiet)
      std::fprintf(stderr, "dfget: %s exists (%s bytes)%s\n", seen.final_url.c_str(),
                   seen.length >= 0 ? std::to_string(seen.length).c_str() : "unknown",
                   seen.last_modified.empty() ? "" : (", " + seen.last_modified).c_str());
    return exit_ok;
  }
  if (!f.timestamping || !job.target.exists || job.target.what != output_target::kind::file)
    return std::nullopt;
  if (seen.ec) {
    std::fprintf(stderr, "dfget: warning: -N cannot compare with the origin (%s); downloading\n",
                 seen.message.c_str());
    return std::nullopt;
  }
  struct stat st {};
  auto remote = parse_http_date(seen.last_modified);
  if (remote && ::stat(job.target.path.c_str(), &st) == 0 && st.st_mtime >= *remote &&
      seen.length == static_cast<std::int64_t>(st.st_size)) {
    if (!f.quiet)
      std::fprintf(stderr, "dfget: the origin's file is no newer than %s; not retrieving\n",
                   job.target.display.c_str());
    return exit_ok;
  }
  return std::nullopt;
}

/// One URL: checks, then the download through the daemon or in-process,
/// attempted again as -t allows.
int download_one(download_flags& f) {
  progress_mode pmode = ::isatty(STDERR_FILENO) ? progress_mode::bar : progress_mode::none;
  if (f.showbar) pmode = progress_mode::bar;
  if (!f.progress.empty() && !parse_progress_mode(f.progress, pmode))
    return fail(exit_usage, "bad --progress '" + f.progress + "': expected bar, json or none");
  if (f.quiet && pmode == progress_mode::bar) pmode = progress_mode::none;
  progress_printer printer(pmode);
  download_job job;
  if (auto code = check_request(f, job)) return *code;
  if (auto code = check_timing(f, job)) return *code;
  if (!f.spider) {
    if (auto code = check_output(f, job)) return *code;
  }
  if (auto code = look_at_origin(f, job)) return *code;
  printer.set_name(job.target.to_stdout() ? "-" : job.target.path.filename().string());
  if (auto code = check_route(f, job)) return *code;
  for (unsigned attempt = 1;; ++attempt) {
    job.failure.clear();
    int code = 0;
    if (job.via_daemon) {
      code = via_daemon(f, job, printer);
    } else {
      in_process_download download(f, job, printer);
      code = download.run();
    }
    if (code == exit_ok || code >= 128 || !worth_retrying(code, job.failure) ||
        (job.tries != 0 && attempt >= job.tries))
      return code;
    auto pause = std::min(job.wait_retry, std::chrono::seconds(attempt));
    if (!pause_before(attempt + 1, pause)) return 128 + g_daemon_client_signal;
  }
}

/// dfget's exit code as wget would have said it (docs/cli.md).
int wget_exit_code(int code) {
  switch (code) {
    case exit_ok:
      return 0;
    case exit_usage:
      return 2;
    case exit_local_io:
      return 3;
    case exit_supernode:
    case exit_timeout:
      return 4;
    case exit_origin:
      return 8;
    default:
      return 1;
  }
}

/// The URLs to fetch: the positional ones, then --input-file's lines
/// (blank lines and '#' comments skipped).
std::optional<int> collect_urls(download_flags& f) {
  if (f.input_file.empty()) return std::nullopt;
  std::ifstream file;
  std::istream* in = &std::cin;
  if (f.input_file != "-") {
    file.open(f.input_file);
    if (!file) return fail(exit_usage, "cannot read --input-file " + f.input_file);
    in = &file;
  }
  std::string line;
  while (std::getline(*in, line)) {
    line.erase(0, line.find_first_not_of(" \t\r"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (!line.empty() && line[0] != '#') f.urls.push_back(line);
  }
  return std::nullopt;
}

}  // namespace

int run_download_command(download_flags& f) {
  if (setup_logging("dfget", f.log_level))
    return fail(exit_usage, "unknown --log-level " + f.log_level);
  auto finish = [&](int code) { return f.wget_exit_codes ? wget_exit_code(code) : code; };
  if (auto code = collect_urls(f)) return finish(*code);
  if (f.urls.size() <= 1) {
    f.url = f.urls.empty() ? std::string() : f.urls.front();
    return finish(download_one(f));
  }
  // Several URLs: each is its own download, into the directory -O names (or
  // -P, or here), or one after another to '-'; the first failure's code is
  // the exit code, and the others still run.
  std::error_code fec;
  if (!f.output.empty() && f.output != "-" && !fs::is_directory(f.output, fec))
    return finish(fail(exit_usage, "with several URLs, -O must name a directory or '-'"));
  if (!f.url_flag.empty())
    return finish(fail(exit_usage, "give the URLs either with -u or as arguments"));
  int result = exit_ok;
  for (const auto& url : f.urls) {
    auto one = f;
    one.url = url;
    int code = download_one(one);
    if (result == exit_ok) result = code;
    if (code >= 128) break;  // interrupted: the user wants it all to stop
  }
  return finish(result);
}

}  // namespace damselfly::dfget
