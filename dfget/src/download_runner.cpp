// SPDX-License-Identifier: Apache-2.0
// download_runner: the daemon's part of one download, from request checks to the published file.
#include "download_runner.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <algorithm>
#include <boost/asio/post.hpp>

#include <ctime>
#include <set>

#include "damselfly/common/http_message.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/url.hpp"
#include "damselfly/dfget/exit_codes.hpp"
#include "damselfly/proto/checks.hpp"
#include "damselfly/proto/supernode_list.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

namespace {

metric_value& piece_bytes(metrics_registry& m, const char* from) {
  return m.counter("damselfly_daemon_download_bytes_total", "Piece bytes downloaded, by source",
                   std::string("from=\"") + from + "\"");
}

metric_value& piece_failures(metrics_registry& m, const char* reason) {
  return m.counter("damselfly_daemon_piece_failures_total", "Failed piece downloads, by reason",
                   std::string("reason=\"") + reason + "\"");
}

histogram& fetch_seconds(metrics_registry& m, const char* from) {
  return m.histogram("damselfly_daemon_piece_fetch_duration_seconds",
                     "Time from a piece request to the piece verified, by source",
                     piece_duration_buckets(), std::string("from=\"") + from + "\"");
}

metric_value& downloads(metrics_registry& m, const char* result) {
  return m.counter("damselfly_daemon_downloads_total", "Downloads finished, by result",
                   std::string("result=\"") + result + "\"");
}

}  // namespace

download_runner::download_runner(asio::any_io_executor ex, const daemon_config& cfg,
                                 task_cache& tasks, metrics_registry& metrics,
                                 const peer_profile& me)
    : ex_(std::move(ex)),
      cfg_(cfg),
      tasks_(tasks),
      me_(me),
      counters_{&piece_bytes(metrics, "supernode"),      &piece_bytes(metrics, "peer"),
                &piece_bytes(metrics, "origin"),         &piece_failures(metrics, "bad_digest"),
                &piece_failures(metrics, "unreachable"), &piece_failures(metrics, "error"),
                &fetch_seconds(metrics, "supernode"),    &fetch_seconds(metrics, "peer")},
      downloads_ok_(downloads(metrics, "ok")),
      downloads_failed_(downloads(metrics, "failed")) {
  if (cfg.total_download_rate > 0)
    total_limiter_ =
        std::make_shared<rate_limiter>(cfg.total_download_rate, 1 << 20, steady::now());
}

proto::local_event download_runner::failure(error_code ec, std::string message) {
  proto::local_event e;
  e.event = proto::local_event_kind::error;
  e.code = std::string(error_name(ec));
  e.exit_code = exit_code_for(ec);
  e.message = std::move(message);
  downloads_failed_.add();
  return e;
}

std::optional<download_runner::checked_request> download_runner::check(
    const proto::local_request& req, proto::local_event& out) {
  const auto& url = req.identity.url;
  if (!http_url::parse(url)) {
    out = failure(errc::invalid_argument, "not an absolute http(s) URL: " + url);
    return std::nullopt;
  }
  if (req.output.empty() || fs::path(req.output).is_relative()) {
    out = failure(errc::invalid_argument, "the output path must be absolute");
    return std::nullopt;
  }
  if (auto bad = proto::check_origin_headers(req.headers)) {
    out = failure(errc::invalid_argument, "header '" + bad->name + "' " + bad->why);
    return std::nullopt;
  }
  checked_request job;
  auto id = make_task_id(req.identity);
  if (!id) {
    out = failure(errc::invalid_argument, "URL cannot be normalized: " + url);
    return std::nullopt;
  }
  job.task_id = *id;
  job.engine.identity = req.identity;
  job.engine.headers = req.headers;
  job.private_task = !proto::credential_material(req.headers, cfg_.credential_headers).empty();
  if (!job.private_task) job.engine.expect_task_id = *id;
  if (!req.identity.digest.empty()) {
    auto spec = digest_spec::parse(req.identity.digest);
    if (!spec) {
      out = failure(errc::invalid_argument, "bad digest '" + req.identity.digest + "'");
      return std::nullopt;
    }
    job.engine.digest = *spec;
  }
  if (!req.ca_pem.empty() || req.insecure) {  // else: the system store, verified
    std::string why;
    tls_options trust;
    trust.ca_pem = req.ca_pem;
    trust.insecure = req.insecure;
    auto ctx = tls_context::create(trust, &why);
    if (!ctx) {
      out = failure(errc::invalid_argument, why);
      return std::nullopt;
    }
    job.engine.origin_tls = *ctx;
  }
  return job;
}

downloader_options download_runner::engine_options(const proto::local_request& req) const {
  downloader_options opts;
  opts.supernodes = cfg_.supernodes;
  opts.cluster_token = cfg_.cluster_token;
  opts.cluster_tls = cfg_.cluster_tls;
  opts.parallel = req.parallel == 0 ? cfg_.parallel : std::min(cfg_.parallel, req.parallel);
  if (req.connect_timeout_ms != 0)
    opts.connect_timeout = std::chrono::milliseconds(req.connect_timeout_ms);
  if (req.read_timeout_ms != 0) opts.io_timeout = std::chrono::milliseconds(req.read_timeout_ms);
  if (req.piece_tries != 0) opts.max_piece_attempts = req.piece_tries;
  opts.peer = me_;
  // A client's own cap can only lower the daemon's.
  opts.download_rate = cfg_.download_rate == 0 || req.limit_rate == 0
                           ? std::max(cfg_.download_rate, req.limit_rate)
                           : std::min(cfg_.download_rate, req.limit_rate);
  opts.total_limit = total_limiter_;
  opts.leave_when_done = false;  // stay a source for this task
  opts.back_to_source = !req.no_back_source;
  opts.counters = counters_;
  return opts;
}

asio::awaitable<local_verdict> download_runner::run(const proto::local_request& req,
                                                    unique_fd output,
                                                    const local_progress& progress,
                                                    bool may_share) {
  proto::local_event refused;
  auto job = check(req, refused);
  if (!job) co_return local_verdict{refused, {}};
  std::string why;
  auto out = handed_output::adopt(std::move(output), &why);
  if (!out) co_return local_verdict{failure(errc::invalid_argument, why), {}};
  if (job->private_task) {
    // Named first: GCC 12 mishandles a co_await inside an aggregate initializer.
    auto done = co_await run_private(req, *job, **out, progress);
    co_return local_verdict{std::move(done), {}};
  }
  co_await tasks_.begin_download(job->task_id);
  download_lease lease(tasks_, job->task_id);
  std::shared_ptr<task_file> tf;
  std::optional<tee_store> tee;
  bool share = may_share && req.accept_shared;
  auto outcome = co_await fetch(req, *job, tf, **out, tee, share, progress);
  if (outcome.ec) {
    auto meta = tf ? tf->meta() : task_meta{};
    if (tf && std::find(meta.have.begin(), meta.have.end(), true) == meta.have.end()) {
      // Nothing verified to resume from or serve: no entry in the cache list.
      tf.reset();
      tasks_.remove(job->task_id);
    } else if (tf) {
      tf->save_meta();
    }
    co_return local_verdict{failure(outcome.ec, outcome.message), {}};
  }
  auto done = publish(req, job->task_id, *tf, **out, *tee, share, outcome);
  sync_later(tf, job->task_id);
  if (done.event.event == proto::local_event_kind::done) done.event.warning = ignored_settings(req);
  co_return done;
}

asio::awaitable<download_outcome> download_runner::fetch(const proto::local_request& req,
                                                         checked_request& job,
                                                         std::shared_ptr<task_file>& tf,
                                                         handed_output& out,
                                                         std::optional<tee_store>& tee, bool& share,
                                                         const local_progress& progress) {
  download_outcome outcome;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto opened = tasks_.open(job.task_id);
    if (!opened) {
      outcome.ec = errc::io_error;
      outcome.message = "cannot open the task's files: " + opened.error().message();
      co_return outcome;
    }
    tf = *opened;
    tf->update([&](task_meta& m) { m.identity = req.identity; });
    auto meta = tf->meta();
    job.engine.have = meta.have;
    job.engine.version = meta.version;
    job.engine.piece_size = meta.piece_size;
    job.engine.peer_key = meta.peer_key;
    auto last_save = steady::now();
    // Named, not temporaries in the co_await: GCC 12 may destroy those twice.
    const std::function<void(const download_progress&)> on_progress =
        [&](const download_progress& p) {
          bool new_layout = false;
          tf->update([&](task_meta& m) {
            new_layout = m.piece_size != p.piece_size || m.version != p.version ||
                         m.peer_key != p.peer_key || m.ticket_key != p.ticket_key;
            m.piece_size = p.piece_size;
            m.version = p.version;
            m.content_length = p.total_bytes;
            m.peer_key = p.peer_key;
            m.ticket_key = p.ticket_key;
          });
          // The layout is saved at once: the piece journal means nothing
          // without it. No data sync here: that would stall this thread on
          // the disk while pieces keep arriving (the journal and the boot id
          // keep a killed daemon's pieces; a reboot voids them).
          if (new_layout || steady::now() - last_save > std::chrono::seconds(1)) {
            tf->save_meta(task_file::durability::deferred);  // a killed daemon resumes from here
            last_save = steady::now();
          }
          proto::local_event e;
          e.bytes = p.bytes_done;
          e.total = p.total_bytes;
          progress(e);
        };
    // A piece's signed digest waits here for the piece to be marked held;
    // the have streams then tell this host's children, and its uploads
    // pass the signature on.
    std::map<std::uint64_t, std::string> signed_digests;
    const std::function<void(std::uint64_t)> on_piece = [&](std::uint64_t piece) {
      tf->mark(piece);
      std::string signed_digest;
      if (auto it = signed_digests.find(piece); it != signed_digests.end()) {
        signed_digest = std::move(it->second);
        signed_digests.erase(it);
      }
      tasks_.piece_added(job.task_id, piece, std::move(signed_digest));
    };
    auto options = engine_options(req);
    options.piece_signed = [&](std::uint64_t piece, const std::string& signed_digest) {
      signed_digests[piece] = signed_digest;
    };
    options.parents_hold = [news = tasks_.news(job.task_id)](auto holds) {
      news->peer_holds = std::move(holds);
    };
    downloader engine(ex_, std::move(options));
    tee.emplace(*tf, out);
    // A link needs one file system; elsewhere the output is written as the
    // pieces come. A file still shared with an earlier output is copied to
    // the next: two outputs that are one file would surprise whoever edits
    // one. (Once that output is gone, the file can be shared again.)
    share = share && !tf->named_elsewhere() && out.same_file_system(tf->fd()->get());
    tf->write_through(share);
    piece_store& store = share ? static_cast<piece_store&>(*tf) : *tee;
    outcome = co_await engine.run(job.engine, store, on_progress, on_piece);
    bool resumed = std::find(meta.have.begin(), meta.have.end(), true) != meta.have.end();
    if (outcome.ec != errc::source_changed || !resumed || attempt > 0) break;
    spdlog::info("task {}: the source changed since the pieces on disk; starting over",
                 job.task_id.substr(0, 12));
    tasks_.remove(job.task_id);
  }
  co_return outcome;
}

asio::awaitable<proto::local_event> download_runner::run_private(const proto::local_request& req,
                                                                 checked_request& job,
                                                                 handed_output& out,
                                                                 const local_progress& progress) {
  auto opts = engine_options(req);
  opts.peer.upload_addr.clear();  // a source for nobody
  opts.leave_when_done = true;
  const std::function<void(const download_progress&)> on_progress =
      [&](const download_progress& p) {
        proto::local_event e;
        e.bytes = p.bytes_done;
        e.total = p.total_bytes;
        progress(e);
      };
  const std::function<void(std::uint64_t)> on_piece = [](std::uint64_t) {};
  downloader engine(ex_, opts);
  auto outcome = co_await engine.run(job.engine, out, on_progress, on_piece);
  if (outcome.ec) co_return failure(outcome.ec, outcome.message);
  const auto& summary = outcome.summary;
  auto length = static_cast<std::uint64_t>(std::max<std::int64_t>(0, summary.content_length));
  if (auto ec = out.finish(length))
    co_return failure(errc::io_error, "cannot write " + req.output + ": " + ec.message());
  downloads_ok_.add();
  co_return done_event(length, summary);
}

void download_runner::sync_later(std::shared_ptr<task_file> tf, std::string task_id) {
  // Later, not now: a flush of the cache's copy while the client's own
  // output is being made durable would make both wait for the same disk. By
  // then the kernel has written most of it back on its own.
  durable_later_.after(durable_after, [this, tf = std::move(tf), id = std::move(task_id)] {
    asio::post(syncer_, [tf, id] {
      if (auto failed = tf->save_meta(task_file::durability::synced))
        spdlog::warn("task {}: cannot save metadata: {}", id.substr(0, 12), failed.message());
    });
  });
}

unique_fd download_runner::share_file(const std::string& task_id, task_file& tf,
                                      std::uint64_t length) {
  const int fd = tf.fd()->get();
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != length) return {};
  auto mtime =
      tf.meta().last_modified.empty() ? std::nullopt : parse_http_date(tf.meta().last_modified);
  if (auto ec = tf.share(mtime)) {
    spdlog::warn("task {}: cannot share its file: {}", task_id.substr(0, 12), ec.message());
    return {};
  }
  if (auto ec = tf.save_meta(task_file::durability::deferred)) {
    spdlog::warn("task {}: cannot save metadata: {}", task_id.substr(0, 12), ec.message());
    return {};
  }
  // Read-only: the client links it; no write goes through this descriptor.
  auto self = "/proc/self/fd/" + std::to_string(fd);
  return unique_fd(::open(self.c_str(), O_RDONLY | O_CLOEXEC));
}

local_verdict download_runner::publish(const proto::local_request& req, const std::string& task_id,
                                       task_file& tf, handed_output& out, tee_store& tee,
                                       bool share, const download_outcome& outcome) {
  const auto& summary = outcome.summary;
  tf.update([&](task_meta& m) {
    m.content_length = summary.content_length;
    m.piece_size = summary.piece_size;
    m.version = summary.version;
    if (!summary.last_modified.empty()) m.last_modified = summary.last_modified;
    m.complete = true;
    m.last_used = std::time(nullptr);
  });
  // The client is not kept waiting for the cache's copy to reach the disk;
  // run() has it synced in the background.
  if (auto ec = tf.save_meta(task_file::durability::deferred))
    spdlog::warn("task {}: cannot save metadata: {}", task_id.substr(0, 12), ec.message());

  auto length = static_cast<std::uint64_t>(std::max<std::int64_t>(0, summary.content_length));
  local_verdict verdict;
  if (share) verdict.shared = share_file(task_id, tf, length);
  if (!verdict.shared) {
    if (auto ec = out.reserve(length))
      return {failure(errc::io_error, "no room for " + req.output + ": " + ec.message()), {}};
    if (auto ec = tee.fill_gaps(tf.fd()->get(), length); ec || (ec = out.finish(length)))
      return {failure(errc::io_error, "cannot write " + req.output + ": " + ec.message()), {}};
  }
  downloads_ok_.add();
  tasks_.collect_garbage();  // a new file may have pushed the cache over its limits
  verdict.event = done_event(length, summary);
  verdict.event.shared = static_cast<bool>(verdict.shared);
  if (verdict.event.last_modified.empty()) verdict.event.last_modified = tf.meta().last_modified;
  return verdict;
}

std::string download_runner::ignored_settings(const proto::local_request& req) const {
  std::string said;
  if (req.total_limit != 0 && req.total_limit != cfg_.total_download_rate) {
    said = "this daemon's total download cap is " +
           (cfg_.total_download_rate == 0 ? std::string("none")
                                          : std::to_string(cfg_.total_download_rate) + " B/s") +
           "; --totallimit applies to a daemon dfget starts (restart the daemon to change it)";
  }
  auto other = other_supernodes(req);
  if (!said.empty() && !other.empty()) said += "; ";
  return said + other;
}

std::string download_runner::other_supernodes(const proto::local_request& req) const {
  if (req.supernodes.empty()) return {};
  std::set<std::string> mine, theirs;
  for (const auto& s : cfg_.supernodes_listed) mine.insert(s.to_string());
  for (const auto& s : req.supernodes) {
    bool https = false;
    auto hp = proto::parse_supernode_address(s, https);
    theirs.insert(hp ? hp->to_string() : s);
  }
  if (mine == theirs) return {};
  std::string list;
  for (const auto& s : mine) list += (list.empty() ? "" : ",") + s;
  return "this daemon works with supernode(s) " + list +
         "; the --supernode given applies to a daemon dfget starts, or to --standalone";
}

proto::local_event download_runner::done_event(std::uint64_t length,
                                               const download_summary& summary) {
  proto::local_event done;
  done.event = proto::local_event_kind::done;
  done.bytes = length;
  done.total = static_cast<std::int64_t>(length);
  done.from_supernode = summary.from_supernode;
  done.from_peers = summary.from_peers;
  done.from_origin = summary.from_origin;
  done.elapsed_ms = static_cast<std::uint64_t>(summary.elapsed.count());
  done.failovers = summary.failovers;
  done.last_modified = summary.last_modified;
  return done;
}

}  // namespace damselfly::dfget
