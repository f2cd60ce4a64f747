// SPDX-License-Identifier: Apache-2.0
// Download engine: supernode registration and sync loop, parallel piece fetches, verification.
#include "damselfly/dfget/downloader.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <map>
#include <random>
#include <set>

#include "damselfly/common/aligned_buffer.hpp"
#include "damselfly/common/async_event.hpp"
#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/digest.hpp"
#include "damselfly/common/host_identity.hpp"
#include "damselfly/common/http_client.hpp"
#include "damselfly/common/http_range.hpp"
#include "damselfly/common/offload.hpp"
#include "damselfly/common/origin_reader.hpp"
#include "damselfly/common/piece_math.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/task_group.hpp"
#include "damselfly/common/ticket_verifier.hpp"
#include "damselfly/common/url.hpp"
#include "damselfly/dfget/origin_probe.hpp"
#include "damselfly/proto/checks.hpp"
#include "damselfly/proto/messages.hpp"
#include "parent_set.hpp"
#include "piece_landing.hpp"
#include "supernode_client.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
/// With parent sets: how long a peer with nothing in flight waits for a
/// piece from its parents or the supernode before it asks the supernode to
/// choose every piece for it.
constexpr std::chrono::milliseconds parents_patience{3000};
/// With parent sets: pieces from the supernode a peer asks for at once,
/// beside those it fetches from its parents.
constexpr std::uint32_t inject_beyond_slots = 2;
/// With parent sets: a batch of finished pieces is reported at most this
/// often. Every report is a sync the supernode handles on its one core; at
/// 16 pieces a report, 10,000 peers at 10 Gbit/s sent it 180,000 in a
/// second, 1.8 cores of work (swarm_sim). A piece from the supernode, a
/// piece to confirm and the last piece are reported at once all the same.
constexpr std::chrono::seconds report_interval_with_parents{1};

/// The version of a file fetched straight from its origin, for -c: empty
/// without validators (then nothing kept is trusted to be the same file).
std::string origin_version(const origin_layout& l) {
  if (l.etag.empty() && l.last_modified.empty()) return {};
  return "origin-" + sha256_hex(l.etag + "\n" + l.last_modified + "\n" + std::to_string(l.length))
                         .substr(0, 16);
}

std::string make_peer_id() {
  // One-off downloads get a fresh id each: they hold nothing across runs.
  return random_host_token() + "-" + std::to_string(::getpid());
}

std::chrono::milliseconds since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t);
}

}  // namespace

/// Bytes that make a slice worth a worker's wake-up.
constexpr std::size_t hash_slice = 512 * 1024;

/// State of one run(); lives on the engine's executor only.
struct downloader::session {
  session(asio::any_io_executor e, asio::thread_pool& w, const downloader_options& o,
          const download_request& r, piece_store& s,
          std::function<void(const download_progress&)> p,
          std::function<void(std::uint64_t)> piece_cb)
      : ex(e),
        workers(w),
        opts(o),
        req(r),
        store(s),
        on_progress(std::move(p)),
        on_piece(std::move(piece_cb)),
        wake(e),
        registered(e),
        pause(e),
        fetches(e, "piece fetches"),
        followers(e, "parents and syncs"),
        limiter(o.download_rate, 1 << 20, steady::now()) {}
  ~session() {
    if (parents && opts.parents_hold) opts.parents_hold(nullptr);
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  asio::any_io_executor ex;
  asio::thread_pool& workers;
  const downloader_options& opts;
  const download_request& req;
  piece_store& store;
  std::function<void(const download_progress&)> on_progress;
  std::function<void(std::uint64_t)> on_piece;

  std::string peer_id;
  std::string peer_key;  ///< from the registration answer; proves peer_id to the supernode
  /// A registration is under way. With parent sets two syncs run at once
  /// (asking, reporting): both lose a supernode together, and the second
  /// registering again at its successor, without the key the first just
  /// got, was refused (403) and failed the download.
  bool registering = false;
  std::uint64_t registrations = 0;  ///< registrations that succeeded so far
  std::string ticket_key;           ///< from the registration answer; checks tickets for this task
  std::string placement;            ///< the key that orders the supernodes for this task
  steady::time_point owner_check_after{};  ///< when moving back to the task's owner may be tried
  std::string ticket;  ///< from the last sync answer; opens /pieces of this task
  std::unique_ptr<supernode_client> supernodes;
  proto::task_info task;
  std::vector<bool> have;
  std::uint64_t have_count = 0;
  unsigned in_flight = 0;
  std::vector<proto::piece_result> results;
  /// A piece fetched without a digest is written, reported with its SHA-256,
  /// and held only once the supernode's answer to that report does not reject
  /// it (sync_request::report_digests): what record() books then.
  struct awaiting {
    proto::assignment a;
    steady::time_point started;
  };
  std::map<std::uint64_t, awaiting> unconfirmed;
  /// Pieces whose bytes are being verified or wait for that answer: a second
  /// copy landing meanwhile (an endgame duplicate) is not written over them.
  std::set<std::uint64_t> claimed;
  /// Results of such second copies, reported once the first copy's verdict is
  /// in: an ok for a piece the supernode never saw held would be refused.
  std::vector<proto::piece_result> held_back;
  std::map<std::uint64_t, unsigned> failures;
  std::map<std::string, std::vector<std::unique_ptr<http_client>>> idle;
  std::vector<aligned_buffer> spare_buffers;
  std::uint32_t slots = 0;  ///< pieces in flight at most (parallel, within the buffer budget)
  std::uint32_t report_every = 1;  ///< what the supernode asked for in its last sync answer
  async_event wake;                ///< a piece finished or the download failed
  async_event registered;          ///< a registration (see `registering`) ended
  asio::steady_timer pause;
  task_group fetches;  ///< one member per piece in flight
  /// The parent-set protocol: have streams, and syncs that run beside the
  /// local choice of pieces (a long poll for a piece to inject).
  task_group followers;
  std::unique_ptr<parent_set> parents;  ///< while the supernode schedules the task so
  bool asking = false;             ///< a sync for pieces to inject runs in `followers` (no results)
  bool reporting = false;          ///< a sync reporting results runs in `followers`
  bool parents_off = false;        ///< given up for this download: every piece from the supernode
  bool waiting_for_piece = false;  ///< the last answer was short: ask again after a piece
  steady::time_point ask_after{};  ///< parent sets: no ask for pieces to inject before
  steady::time_point report_after{};  ///< parent sets: no batch of results reported before
  std::optional<ticket_verifier> digest_signer;  ///< checks signed digests (the ticket key)
  rate_limiter limiter;
  std::optional<steady::time_point> outage_since;  ///< supernode unreachable since
  std::string last_outage_error;
  steady::time_point last_progress = steady::now();
  download_outcome outcome;
  bool fatal = false;

  void fail(error_code ec, std::string message) {
    if (fatal) return;
    fatal = true;
    outcome.ec = ec;
    outcome.message = std::move(message);
    wake.notify();
  }

  /// Body bytes of pieces still arriving: shown as progress, not yet counted as done.
  std::uint64_t arriving = 0;
  steady::time_point last_report{};

  /// Progress while a piece is still arriving, at most ten times a second.
  void report_arriving(std::size_t n) {
    arriving += n;
    if (steady::now() - last_report < std::chrono::milliseconds(100)) return;
    report_progress();
  }

  void report_progress() {
    last_report = steady::now();
    if (on_progress)
      on_progress({outcome.summary.bytes + outcome.summary.resumed_bytes + arriving,
                   task.content_length, have_count, task.piece_count, task.piece_size, task.task_id,
                   task.version, peer_key, ticket_key});
  }

  /// For supernodes and peers (an origin's trust is set where it is fetched).
  http_client_options client_options() const {
    http_client_options c;
    c.io_timeout = opts.io_timeout;
    c.connect_timeout = std::min(opts.connect_timeout, opts.io_timeout);
    c.tls = opts.cluster_tls;
    return c;
  }

  /// How a call to the supernode went: done, worth retrying later, or fatal (failed).
  enum class call { ok, retry, failed };
  asio::awaitable<call> register_task();
  /// One sync: the queued results (unless `with_results` is false: a sync
  /// beside a report), and up to `want` assignments into `out`.
  asio::awaitable<call> sync_once(std::uint32_t want, std::uint32_t wait_ms,
                                  std::vector<proto::assignment>& out, bool with_results = true);
  /// Waits a little before the next try at an unreachable supernode; fails once
  /// the outage has lasted longer than allowed.
  asio::awaitable<void> ride_out_outage(const std::string& why);
  /// `seed`: the supernode that made the assignment (its pieces come from there).
  asio::awaitable<void> fetch_piece(proto::assignment a, host_port seed);
  /// An idle keep-alive connection to `from`, or a new one.
  std::unique_ptr<http_client> connection_to(const host_port& from);
  /// Waits as the download's own and the shared rate caps say.
  asio::awaitable<void> pace(std::uint64_t bytes);
  struct verdict {
    proto::piece_status status = proto::piece_status::ok;
    std::string sha256;  ///< of what arrived
    bool kept = false;   ///< written to the store (the first copy to land)
  };
  /// Hashes the rest of the landed piece `in`, compares it with the
  /// assignment's digest when there is one, and writes the piece if it is the
  /// first copy to land and did not fail (on a worker).
  asio::awaitable<verdict> verify_and_store(const proto::assignment& a, piece_landing& in,
                                            const host_port& from);
  /// Books a finished attempt: the result to report, counters, progress.
  void record(const proto::assignment& a, const verdict& v, steady::time_point started,
              bool counts = true);
  /// The piece is held: counters, progress, on_piece.
  void confirm(const proto::assignment& a, steady::time_point started);
  /// Counts a failed attempt at a piece against --piece-tries.
  void count_failure(std::uint64_t piece, proto::piece_status status, bool counts);
  /// A claimed piece's verdict is in: held-back reports of its other copies go out.
  void settle(std::uint64_t piece, bool held);
  /// Moving to another supernode: results about the old one's assignments
  /// mean nothing there, but pieces written and awaiting a verdict are
  /// reported again, for the new one to check (or they would wait for ever).
  void forget_results() {
    std::erase_if(results, [this](const proto::piece_result& r) {
      return r.status != proto::piece_status::ok || r.sha256.empty() ||
             !unconfirmed.contains(r.piece);
    });
    held_back.clear();
  }
  /// The supernode's verdicts on the digests `sent` reported.
  void take_verdicts(const std::vector<proto::piece_result>& sent,
                     const std::vector<std::uint64_t>& rejected);
  asio::awaitable<void> verify_whole();
  /// Back-to-source: the whole file straight from the origin.
  asio::awaitable<void> from_origin();
  asio::awaitable<void> leave();
  /// The sync loop: asks for assignments, starts piece fetches, reports results.
  asio::awaitable<void> drive(steady::time_point started);
  /// One answer's assignments: fetch each piece not already held.
  void start_fetches(std::vector<proto::assignment>& got);
  /// An answer of a supernode scheduling by parent sets: its new parents.
  void adopt_parents(const std::vector<std::string>& addrs);
  /// Fetches what the parents hold, up to the free slots.
  void pick_from_parents();
  /// One sync beside the local choice (parent sets): asking for up to
  /// `want` pieces to inject (a long poll of `wait_ms`), or reporting.
  asio::awaitable<void> sync_aside(std::uint32_t want, std::uint32_t wait_ms);
  /// What a request to a peer carries: who asks, its ticket, the token.
  void sign(http_request& r) const {
    r.headers.set("X-Damselfly-Peer", peer_id);
    if (!opts.cluster_token.empty()) r.headers.set("Authorization", bearer(opts.cluster_token));
    if (!ticket.empty()) r.headers.set(ticket_header, ticket);
  }
  bool holds(std::uint64_t piece) const { return piece < have.size() && have[piece]; }
  bool complete() const {
    return task.state == proto::task_state::done && task.piece_count >= 0 &&
           have_count == static_cast<std::uint64_t>(task.piece_count);
  }
  /// Turns an answer that is neither success nor unreachable into a failure.
  /// `what`: "the registration"; `noun`: "registration" (an invalid registration answer).
  template <class T>
  void fail_from_answer(const supernode_answer<T>& a, const char* what, const char* noun) {
    if (a.outcome == supernode_outcome::invalid)
      fail(errc::protocol_error,
           std::string("supernode sent an invalid ") + noun + " answer: " + a.message);
    else
      fail(errc::protocol_error, describe_refusal(a, what));
  }
  /// Nothing a supernode says is used before it is checked: a layout within
  /// the limits, assignments that fit it (compact ones get their ranges from
  /// that layout first). Fails the download otherwise.
  bool check_answer(const proto::task_info& t, std::vector<proto::assignment>& assigned,
                    bool compact = false) {
    auto why = proto::check_task_info(t);
    if (why.empty() && compact) why = proto::expand_compact(assigned, t);
    for (std::size_t i = 0; i < assigned.size() && why.empty(); ++i)
      why = proto::check_assignment(assigned[i], t);
    if (why.empty()) return true;
    fail(errc::protocol_error, "the supernode sent an invalid answer: " + why);
    return false;
  }
  /// Accepts a registration answer: the task as the supernode knows it.
  call adopt(const proto::task_info& info);
  void fail_task(const proto::task_info& t) {
    std::string msg = t.error ? t.error->message : "the supernode reports the task as failed";
    auto code = errc::task_failed;
    if (t.error && t.error->code.rfind("origin", 0) == 0) code = errc::origin_http_error;
    if (t.error && (t.error->code == "origin_unreachable" || t.error->code == "origin_timeout"))
      code = errc::origin_unreachable;
    fail(code, msg);
  }
};

downloader::downloader(asio::any_io_executor ex, downloader_options opts)
    : ex_(std::move(ex)), opts_(std::move(opts)) {
  if (opts_.peer.peer_id.empty()) opts_.peer.peer_id = make_peer_id();
  opts_.parallel = std::max(1u, opts_.parallel);
  workers_ = std::make_unique<asio::thread_pool>(std::max(1u, opts_.worker_threads));
}

downloader::~downloader() = default;

asio::awaitable<downloader::session::call> downloader::session::register_task() {
  if (registering) {
    // Another of this download's syncs registers: wait for it, then go on
    // with what it got (its own deadlines bound it; this wait too).
    co_await registered.wait_for(std::chrono::seconds(60));
    co_return peer_key.empty() ? call::retry : call::ok;
  }
  registering = true;
  struct done_registering {
    session& self;
    ~done_registering() {
      self.registering = false;
      self.registered.notify();
    }
  } done{*this};
  proto::register_request r;
  r.identity = req.identity;
  if (req.digest) r.identity.digest = req.digest->to_string();
  r.headers = req.headers;
  describe_peer(opts.peer, r);
  if (have_count > 0) {
    // Resumed pieces are of the request's version; pieces fetched in this
    // download (re-registering after a failover) of the task's.
    r.bitmap = proto::encode_bitmap(have);
    r.version = task.version.empty() ? req.version : task.version;
  }
  auto answer = co_await supernodes->register_task(r, peer_key);
  if (answer.outcome == supernode_outcome::unreachable) {
    last_outage_error = answer.message;
    co_return call::retry;
  }
  if (!answer) {
    fail_from_answer(answer, "the registration", "registration");
    co_return call::failed;
  }
  peer_key = answer.value->peer_key;
  ticket_key = answer.value->ticket_key;
  digest_signer = ticket_verifier::from_public_key(ticket_key);
  ++registrations;
  co_return adopt(*answer.value);
}

downloader::session::call downloader::session::adopt(const proto::task_info& info) {
  std::vector<proto::assignment> none;
  if (!check_answer(info, none)) return call::failed;
  if (!req.expect_task_id.empty() && info.task_id != req.expect_task_id) {
    fail(errc::protocol_error,
         "the supernode names this task " + info.task_id.substr(0, 12) + ", not " +
             req.expect_task_id.substr(0, 12) +
             ": it takes a header of this request for a credential; give the daemon the "
             "supernode's --credential-header list");
    return call::failed;
  }
  if (!task.version.empty() && !info.version.empty() && info.version != task.version) {
    fail(errc::source_changed, "the source file changed during the download; run dfget again");
    return call::failed;
  }
  if (have_count > 0 && req.piece_size != 0 && info.piece_size != 0 &&
      info.piece_size != req.piece_size) {
    fail(errc::source_changed, "the piece layout changed since the pieces on disk were written");
    return call::failed;
  }
  bool new_length = info.content_length >= 0 && info.content_length != task.content_length;
  task = info;
  if (new_length) {
    auto length = static_cast<std::uint64_t>(task.content_length);
    if (auto ec = store.reserve(length)) {
      fail(errc::io_error,
           "no room for the file's " + std::to_string(length) + " bytes: " + ec.message());
      return call::failed;
    }
  }
  if (have_count > 0 && task.content_length >= 0 && task.piece_size > 0) {
    outcome.summary.resumed_bytes = 0;
    for (std::uint64_t i = 0; i < have.size(); ++i)
      if (have[i] && static_cast<std::int64_t>(i) < task.piece_count)
        outcome.summary.resumed_bytes +=
            piece_at(i, static_cast<std::uint64_t>(task.content_length), task.piece_size).length;
  }
  outage_since.reset();
  return call::ok;
}

asio::awaitable<downloader::session::call> downloader::session::sync_once(
    std::uint32_t want, std::uint32_t wait_ms, std::vector<proto::assignment>& out,
    bool with_results) {
  proto::sync_request s;
  // The results go with this sync: a sync beside it (parent sets) reports
  // only later ones. They come back to the queue unless an answer took them.
  if (with_results) {
    s.results = std::move(results);
    results.clear();
  }
  struct requeue {
    session& self;
    std::vector<proto::piece_result>& sent;
    bool done = false;
    void now() {
      if (done) return;
      done = true;
      self.results.insert(self.results.begin(), sent.begin(), sent.end());
    }
    ~requeue() { now(); }
  } back_to_queue{*this, s.results};
  s.want = want;
  s.wait_ms = wait_ms;
  s.version = task.version;
  // What this peer already has: answers leave out a task state and a ticket
  // it holds, so syncs carry little but their assignments.
  if (!task.task_id.empty()) s.known_state = std::string(proto::to_string(task.state));
  if (ticket.size() >= 16) s.ticket_tail = ticket.substr(ticket.size() - 16);
  s.compact = true;
  s.report_every = report_every;
  s.report_digests = true;
  s.parents = opts.parent_sets && !parents_off;
  if (!supernodes->bound()) {
    // The supernode was given up (a refused connection, a failed failover):
    // register again, with what we hold, wherever the list says now.
    auto registered = co_await register_task();
    if (registered == call::ok)
      spdlog::info("registered again with {} verified pieces after losing the supernode",
                   have_count);
    co_return registered;
  }
  bool back = false;  // to the task's owner
  if (supernodes->bound_is_stale(placement) && steady::now() >= owner_check_after) {
    // The owner's rest is over: ask it before leaving where we are (probing at
    // most every 5 s, as a probe of an unreachable host can take its timeout).
    owner_check_after = steady::now() + std::chrono::seconds(5);
    back = co_await supernodes->answers(supernodes->owner_now(placement));
  }
  if (back) {
    // At most once per half minute: going back costs a leave and a registration.
    owner_check_after = steady::now() + std::chrono::seconds(30);
    // The task's owner answers again: back to it, so the swarm is not split
    // between the owner (seeders announce there) and the supernode we moved to.
    spdlog::info("the task's own supernode is back; registering there again");
    co_await supernodes->leave(task.task_id, peer_id, peer_key);  // best effort
    supernodes->unbind();
    back_to_queue.now();
    forget_results();
    ticket.clear();
    peer_key.clear();
    co_return co_await register_task();
  }
  const auto registered_as = registrations;
  auto answer = co_await supernodes->sync(task.task_id, peer_id, s, peer_key);
  // A restarted supernode does not know us (or the task) any more.
  const bool forgotten = answer.status == 404 && (answer.error.code == "unknown_peer" ||
                                                  answer.error.code == "unknown_task");
  const bool lost = answer.outcome == supernode_outcome::unreachable || forgotten;
  // Refused for the key of the registration before the one another sync of
  // this download makes (or made) at a restarted supernode: stale, not
  // wrong. (Failing here failed downloads through a supernode restart.)
  const bool stale_key = answer.status == 403 && answer.error.code == "bad_peer_key";
  if ((lost || stale_key) && (registering || registrations != registered_as)) {
    // Another sync of this download met the same loss and registers (or
    // registered) again: its registration carried what this peer holds, and
    // a lost supernode's results are dropped; a stale key's go with the next
    // sync, under the new key.
    if (lost) back_to_queue.done = true;
    co_return registering ? co_await register_task() : call::ok;
  }
  if (answer.outcome == supernode_outcome::unreachable) {
    last_outage_error = answer.message;
    if (!supernodes->give_up_bound(answer.transport)) co_return call::retry;  // results stay queued
    // Another supernode is next in this task's order: register there with what
    // we hold. The results were about the lost supernode's assignments, and its
    // peer key and ticket mean nothing elsewhere.
    spdlog::warn("{}; moving to the task's next supernode with {} verified pieces", answer.message,
                 have_count);
    back_to_queue.now();
    forget_results();
    ticket.clear();
    peer_key.clear();
    ++outcome.summary.failovers;
    co_return co_await register_task();
  }
  if (forgotten) {
    // Register again, telling it what we hold, and carry on.
    auto registered = co_await register_task();
    if (registered == call::ok)
      spdlog::info(
          "registered again with {} verified pieces: the supernode had forgotten this peer",
          have_count);
    co_return registered;
  }
  if (answer.status == 409) {
    fail(errc::source_changed, "the source file changed during the download; run dfget again");
    co_return call::failed;
  }
  if (!answer) {
    fail_from_answer(answer, "a sync", "sync");
    co_return call::failed;
  }
  const auto& told = answer.value->task ? *answer.value->task : task;
  if (!check_answer(told, answer.value->assignments, answer.value->compact)) co_return call::failed;
  if (auto why = proto::check_ticket(answer.value->ticket); !why.empty()) {
    fail(errc::protocol_error, "the supernode sent an invalid answer: " + why);
    co_return call::failed;
  }
  if (!answer.value->ticket.empty()) ticket = answer.value->ticket;
  back_to_queue.done = true;  // reported
  outage_since.reset();
  if (answer.value->task) task = std::move(*answer.value->task);
  take_verdicts(s.results, answer.value->rejected);
  // Not said (and a 204 says nothing): as it was.
  if (answer.status != 204 && answer.value->report_every != 0)
    report_every = answer.value->report_every;
  out = std::move(answer.value->assignments);
  if (answer.value->parent_sets && s.parents) adopt_parents(answer.value->parents);
  co_return call::ok;
}

void downloader::session::adopt_parents(const std::vector<std::string>& addrs) {
  if (!parents) {
    if (task.content_length < 0 || task.piece_size == 0 || !digest_signer) return;
    parent_set::context c;
    c.ex = ex;
    c.client = client_options();
    c.task_id = task.task_id;
    c.length = static_cast<std::uint64_t>(task.content_length);
    c.piece_size = task.piece_size;
    c.sign = [this](http_request& r) { sign(r); };
    // News with every slot busy changes nothing now: the next finished
    // piece wakes the loop anyway (a wake per notice cost a loop per notice).
    c.on_news = [this] {
      if (in_flight < slots) wake.notify();
    };
    c.own_addr = opts.peer.upload_addr;
    parents = std::make_unique<parent_set>(std::move(c), std::hash<std::string>{}(peer_id));
    if (opts.parents_hold)
      opts.parents_hold([this](std::string_view addr, std::uint64_t piece) {
        return parents && parents->holds(addr, piece);
      });
    // What is here already is no parent's to give.
    for (std::uint64_t i = 0; i < have.size(); ++i)
      if (have[i]) parents->held(i);
    spdlog::debug("task {}: the supernode schedules by parent sets", task.task_id.substr(0, 12));
  }
  parents->add(addrs, followers);
}

void downloader::session::pick_from_parents() {
  if (!parents || parents_off) return;
  std::uint32_t free_slots = in_flight < slots ? slots - in_flight : 0;
  if (free_slots == 0) return;
  auto picked = parents->pick(free_slots);
  for (auto& a : picked) {
    ++in_flight;
    fetches.spawn(fetch_piece(std::move(a), supernodes->bound().value_or(host_port{})));
  }
}

asio::awaitable<void> downloader::session::sync_aside(std::uint32_t want, std::uint32_t wait_ms) {
  auto& flag = want > 0 ? asking : reporting;
  std::vector<proto::assignment> got;
  auto r = co_await sync_once(want, wait_ms, got, want == 0);
  if (r == call::retry) co_await ride_out_outage(last_outage_error);
  if (r == call::ok) {
    // Nothing to inject now: asked again after a pause, not at every piece
    // or have notice (the supernode answers at once once it holds the file).
    if (want > 0 && got.size() < want) ask_after = steady::now() + std::chrono::milliseconds(250);
    start_fetches(got);
  }
  flag = false;
  wake.notify();
}

asio::awaitable<void> downloader::session::ride_out_outage(const std::string& why) {
  auto now = steady::now();
  if (!outage_since) {
    outage_since = now;
    spdlog::warn("{}; retrying", why);
  }
  if (now - *outage_since > opts.supernode_outage) {
    fail(errc::supernode_unreachable, why);
    co_return;
  }
  pause.expires_after(std::chrono::milliseconds(500));
  co_await pause.async_wait(nothrow);
}

std::unique_ptr<http_client> downloader::session::connection_to(const host_port& from) {
  auto& pool = idle[from.to_string()];
  if (pool.empty())
    return std::make_unique<http_client>(ex, from.host, from.port, client_options());
  auto c = std::move(pool.back());
  pool.pop_back();
  return c;
}

asio::awaitable<void> downloader::session::pace(std::uint64_t bytes) {
  auto wait = limiter.acquire(bytes, steady::now());
  if (opts.total_limit) wait = std::max(wait, opts.total_limit->acquire(bytes, steady::now()));
  if (wait.count() > 0) {
    asio::steady_timer t(ex, wait);
    co_await t.async_wait(nothrow);
  }
}

asio::awaitable<downloader::session::verdict> downloader::session::verify_and_store(
    const proto::assignment& a, piece_landing& in, const host_port& from) {
  // Claimed here, on the session's executor, before any write: of two copies
  // of one piece only the first to land reaches the store.
  const bool keep = !holds(a.piece) && claimed.insert(a.piece).second;
  // On a worker: the I/O thread keeps receiving, and two pieces are hashed
  // at once. By reference: this frame waits for the work.
  struct outcome {
    verdict v;
    error_code write_error;
  };
  auto done = co_await offload(workers.get_executor(), [&a, &in, this, keep] {
    outcome o;
    in.hash_landed();
    auto bytes = in.buf.view();
    o.v.sha256 = in.finish();
    if (!a.sha256.empty() && o.v.sha256 != a.sha256) {
      o.v.status = proto::piece_status::bad_digest;
    } else if (keep) {
      o.v.kept = true;
      if (a.length > 0) o.write_error = store.write(a.offset, bytes);
    }
    return o;
  });
  if (done.v.status == proto::piece_status::bad_digest) {
    spdlog::warn("piece {} from {} failed verification", a.piece, from.to_string());
    if (keep) {
      claimed.erase(a.piece);
      settle(a.piece, false);
    }
  }
  if (done.write_error)
    fail(errc::io_error, "cannot write the download: " + done.write_error.message());
  co_return done.v;
}

asio::awaitable<void> downloader::session::fetch_piece(proto::assignment a, host_port seed) {
  auto started = steady::now();
  host_port from = std::move(seed);
  if (a.source != proto::supernode_source) {
    auto hp = host_port::parse(a.source);
    if (hp) from = *hp;
  }
  auto c = connection_to(from);
  http_request get;
  get.target = "/pieces/" + task.task_id;
  get.headers.set("Range", format_range_request({a.offset, a.length}));
  sign(get);
  // The key proves the peer to the supernode only; other peers never see it.
  if (a.source == proto::supernode_source && !peer_key.empty())
    get.headers.set(peer_key_header, peer_key);
  // With parent sets a piece comes with the supernode's signature of its
  // digest: checked here, it is the digest the piece must hash to.
  const bool wants_signed = parents && a.sha256.empty();
  if (wants_signed) get.headers.set(want_signed_digest_header, "1");
  std::string signed_digest;
  bool forged = false;  // a signature that vouches for nothing: the source lies
  verdict v;
  auto& status = v.status;
  auto in = std::make_shared<piece_landing>();
  if (!spare_buffers.empty()) {
    in->buf = std::move(spare_buffers.back());
    spare_buffers.pop_back();
  }
  auto dest = in->buf.prepare(static_cast<std::size_t>(a.length));
  co_await pace(a.length);
  bool busy = false;  // the source said 503: its upload slots are full, nothing is wrong
  // A parent that does not take this peer's ticket (403/404): after a
  // supernode fleet's failover, peers already registered at the successor
  // and those not yet hold tickets of different keys until all have moved.
  // Counted as a piece failure, it failed downloads within 50 ms (five
  // such parents in a row); it is a moment's rest for that parent instead.
  bool refused = false;
  if (a.length > 0) {
    // Named, not a temporary in the co_await: GCC 12 may destroy such temporaries twice.
    const head_check partial_content = [&](const response_head& h) {
      busy = h.status == 503;
      refused =
          parents && a.source != proto::supernode_source && (h.status == 403 || h.status == 404);
      if (h.status != 206) return error_code(errc::protocol_error);
      if (auto sig = h.headers.get(signed_digest_header); wants_signed && sig) {
        auto vouched = digest_signer->check_digest(*sig, task.task_id, task.version, a.piece);
        if (!vouched) {
          forged = true;
          return error_code(errc::protocol_error);
        }
        a.sha256 = *vouched;
        signed_digest = std::string(*sig);
      }
      return error_code{};
    };
    std::uint64_t landed = 0;
    const std::function<void(std::size_t)> received = [&](std::size_t n) {
      landed += n;
      report_arriving(n);
      in->landed.store(static_cast<std::size_t>(landed), std::memory_order_release);
      if (landed - in->queued < hash_slice) return;
      asio::post(workers, [in] { in->hash_landed(); });
      in->queued = static_cast<std::size_t>(landed);
    };
    auto resp = co_await c->fetch_into(get, dest, partial_content, received);
    arriving -= landed;  // counted as done once verified, or not at all
    if (!resp) {
      status = forged ? proto::piece_status::bad_digest : proto::piece_status::unreachable;
      spdlog::debug("piece {} from {}: {}", a.piece, from.to_string(), resp.error().message());
    }
  }
  if (status == proto::piece_status::ok) {
    in->landed.store(dest.size(), std::memory_order_release);  // the whole body is in
    v = co_await verify_and_store(a, *in, from);
    // The signature goes with the piece wherever this peer serves it next.
    if (v.kept && v.status == proto::piece_status::ok && !signed_digest.empty() &&
        opts.piece_signed)
      opts.piece_signed(a.piece, signed_digest);
  }
  // Reused only when no queued slice still holds it (one may, after a failure).
  if (in.use_count() == 1) spare_buffers.push_back(in->take_buffer());
  // After a busy answer too: its short body was read, the connection is sound
  // (or, if not, the client reconnects by itself).
  if (status == proto::piece_status::ok || busy) idle[from.to_string()].push_back(std::move(c));
  // A busy source, or a supernode this download has moved away from, says
  // nothing about the piece: reported, but not counted against --piece-tries.
  auto bound = supernodes->bound();
  bool moved_away =
      a.source == proto::supernode_source && (!bound || bound->to_string() != from.to_string());
  bool counts = !busy && !refused && !moved_away;
  if (!fatal) record(a, v, started, counts);
  if (parents) {
    parents->ended(a.piece, holds(a.piece), unconfirmed.contains(a.piece));
    if (status != proto::piece_status::ok && a.source != proto::supernode_source)
      parents->failed(a.source, status, busy || refused);
  }
  --in_flight;
  wake.notify();
}

void downloader::session::count_failure(std::uint64_t piece, proto::piece_status status,
                                        bool counts) {
  ++outcome.summary.failed_pieces;
  auto* counter = status == proto::piece_status::bad_digest    ? opts.counters.failed_bad_digest
                  : status == proto::piece_status::unreachable ? opts.counters.failed_unreachable
                                                               : opts.counters.failed_other;
  if (counter) counter->add();
  if (counts && ++failures[piece] >= opts.max_piece_attempts)
    fail(errc::too_many_failures, "piece " + std::to_string(piece) + " failed " +
                                      std::to_string(failures[piece]) +
                                      " times (last: " + std::string(to_string(status)) + ")");
}

void downloader::session::record(const proto::assignment& a, const verdict& v,
                                 steady::time_point started, bool counts) {
  proto::piece_result r{
      a.piece, v.status, a.source, a.length, static_cast<std::uint64_t>(since(started).count()),
      {}};
  if (v.status != proto::piece_status::ok) {
    results.push_back(std::move(r));
    count_failure(a.piece, v.status, counts);
    return;
  }
  // Every ok carries what arrived hashed: the supernode checks it, whether
  // or not this peer could (a piece held only after that check).
  r.sha256 = v.sha256;
  last_progress = steady::now();
  if (!v.kept) {
    // A second copy: reported now if the first is held, after its verdict if not.
    (holds(a.piece) ? results : held_back).push_back(std::move(r));
    return;
  }
  results.push_back(std::move(r));
  if (a.sha256.empty()) {
    unconfirmed[a.piece] = {a, started};  // held once the answer to this report accepts it
    return;
  }
  confirm(a, started);
}

void downloader::session::settle(std::uint64_t piece, bool held) {
  for (auto it = held_back.begin(); it != held_back.end();) {
    if (it->piece != piece) {
      ++it;
      continue;
    }
    // Not written: if the first copy was refused, this one is no copy either.
    if (!held) {
      it->status = proto::piece_status::error;
      it->sha256.clear();
    }
    results.push_back(std::move(*it));
    it = held_back.erase(it);
  }
}

void downloader::session::take_verdicts(const std::vector<proto::piece_result>& sent,
                                        const std::vector<std::uint64_t>& rejected) {
  for (const auto& r : sent) {
    auto it = unconfirmed.find(r.piece);
    if (r.status != proto::piece_status::ok || r.sha256.empty() || it == unconfirmed.end())
      continue;
    auto waiting = std::move(it->second);
    unconfirmed.erase(it);
    if (std::find(rejected.begin(), rejected.end(), r.piece) != rejected.end()) {
      claimed.erase(r.piece);
      // What was written stays unmarked and is fetched again over it.
      spdlog::warn("piece {} from {} failed verification at the supernode", r.piece, r.source);
      count_failure(r.piece, proto::piece_status::bad_digest, true);
      settle(r.piece, false);
      if (parents) {
        parents->verdict(r.piece, false);
        // A parent that sent it is asked nothing more: one that sends
        // unsigned garbage and claims every piece failed every child's
        // download, each piece asked of it until its tries ran out.
        if (r.source != proto::supernode_source)
          parents->failed(r.source, proto::piece_status::bad_digest, false);
      }
      continue;
    }
    confirm(waiting.a, waiting.started);
    if (parents) parents->verdict(r.piece, true);
  }
}

void downloader::session::confirm(const proto::assignment& a, steady::time_point started) {
  claimed.erase(a.piece);
  if (a.piece >= have.size()) have.resize(a.piece + 1, false);
  if (!have[a.piece]) {
    have[a.piece] = true;
    ++have_count;
    outcome.summary.bytes += a.length;
    ++outcome.summary.pieces;
    bool from_seed = a.source == proto::supernode_source;
    (from_seed ? outcome.summary.from_supernode : outcome.summary.from_peers) += a.length;
    if (auto* counter = from_seed ? opts.counters.from_supernode : opts.counters.from_peers)
      counter->add(a.length);
    if (auto* h =
            from_seed ? opts.counters.fetch_seconds_supernode : opts.counters.fetch_seconds_peer)
      h->observe(steady::now() - started);
  }
  last_progress = steady::now();
  // Progress first: it carries the layout a host records before the piece.
  report_progress();
  if (on_piece) on_piece(a.piece);
  settle(a.piece, true);
}

asio::awaitable<void> downloader::session::verify_whole() {
  if (!req.digest) co_return;
  digest d(req.digest->algo);
  std::vector<std::byte> buf(1 << 20);
  std::uint64_t length = static_cast<std::uint64_t>(task.content_length);
  for (std::uint64_t off = 0; off < length;) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length - off));
    if (auto ec = store.read(off, std::span(buf.data(), n))) {
      fail(errc::io_error, "cannot read back the download: " + ec.message());
      co_return;
    }
    d.update(std::span<const std::byte>(buf.data(), n));
    off += n;
  }
  auto got = d.finish();
  if (got != req.digest->hex)
    fail(errc::digest_mismatch, "digest mismatch: expected " + req.digest->to_string() + ", got " +
                                    std::string(to_string(req.digest->algo)) + ":" + got);
}

asio::awaitable<void> downloader::session::from_origin() {
  auto url = http_url::parse(req.identity.url);
  if (!url) {
    fail(errc::invalid_argument, "not an absolute http(s) URL: " + req.identity.url);
    co_return;
  }
  origin_reader_options ro;
  // --timeout bounds this path too: no single wait outlasts it, and the
  // transfer stops once it has passed.
  ro.client = origin_client_options(opts, req.origin_tls);
  const auto deadline = opts.total_timeout.count() > 0 ? steady::now() + opts.total_timeout
                                                       : steady::time_point::max();
  bool timed_out = false;
  ro.concurrency = opts.parallel;
  origin_reader reader(ex, *url, req.headers, ro);
  origin_sink sink;
  // The download's own cap and the daemon's total hold on this path too
  // (capped, the origin is asked piece by piece, so the cap holds smoothly).
  if (!limiter.unlimited() || (opts.total_limit && !opts.total_limit->unlimited()))
    sink.pace = [this](std::uint64_t bytes) {
      auto wait = limiter.acquire(bytes, steady::now());
      if (opts.total_limit) wait = std::max(wait, opts.total_limit->acquire(bytes, steady::now()));
      return std::chrono::duration_cast<std::chrono::nanoseconds>(wait);
    };
  sink.cancelled = [this, deadline, &timed_out] {
    if (steady::now() > deadline) timed_out = true;
    return fatal || timed_out;
  };
  sink.on_layout = [this](const origin_layout& l) -> error_code {
    task.content_length = l.length;
    task.piece_size = l.piece_size;
    task.piece_count = l.length < 0 ? -1
                                    : static_cast<std::int64_t>(piece_count(
                                          static_cast<std::uint64_t>(l.length), l.piece_size));
    task.version = origin_version(l);
    outcome.summary.last_modified = l.last_modified;
    // Pieces kept by an interrupted run count only for the same file in the
    // same layout, and only when the origin can send the others by Range.
    bool keep = have_count > 0 && l.ranged && !task.version.empty() &&
                task.version == req.version && l.piece_size == req.piece_size;
    if (!keep) {
      have.assign(have.size(), false);
      have_count = 0;
    }
    outcome.summary.resumed_bytes = 0;
    if (keep) {
      for (std::uint64_t i = 0; i < have.size(); ++i)
        if (have[i] && static_cast<std::int64_t>(i) < task.piece_count)
          outcome.summary.resumed_bytes +=
              piece_at(i, static_cast<std::uint64_t>(l.length), l.piece_size).length;
    }
    report_progress();  // the layout and version, which -c records
    return {};
  };
  sink.skip = [this](std::uint64_t index) { return holds(index); };
  error_code write_error;
  sink.on_data = [this, &write_error](std::uint64_t offset,
                                      std::span<const std::byte> data) -> error_code {
    if (auto ec = store.write(offset, data)) {
      write_error = ec;
      return ec;
    }
    outcome.summary.bytes += data.size();
    outcome.summary.from_origin += data.size();
    if (opts.counters.from_origin) opts.counters.from_origin->add(data.size());
    last_progress = steady::now();
    return {};
  };
  sink.on_piece = [this](std::uint64_t index, std::string) {
    if (index >= have.size()) have.resize(index + 1, false);
    if (!have[index]) {
      have[index] = true;
      ++have_count;
      ++outcome.summary.pieces;
    }
    report_progress();
    if (on_piece) on_piece(index);
  };
  auto r = co_await reader.fetch(sink);
  if (fatal) co_return;
  if (timed_out || (r.ec == errc::timeout && steady::now() >= deadline - ro.client.io_timeout &&
                    opts.total_timeout.count() > 0)) {
    fail(errc::timeout, "download did not finish within " +
                            std::to_string(opts.total_timeout.count() / 1000) + " s");
    co_return;
  }
  if (r.ec) {
    auto text = describe_origin_failure(*url, r);
    auto code = text.code == "origin_unreachable" || text.code == "origin_timeout"
                    ? errc::origin_unreachable
                : text.code == "source_changed" ? errc::source_changed
                                                : errc::origin_http_error;
    if (write_error)
      fail(errc::io_error, "cannot write the download: " + write_error.message());
    else
      fail(code, text.message);
    co_return;
  }
  task.content_length = r.layout.length;
  task.piece_size = r.layout.piece_size;
  task.piece_count = static_cast<std::int64_t>(
      piece_count(static_cast<std::uint64_t>(r.layout.length), r.layout.piece_size));
  task.state = proto::task_state::done;
}

asio::awaitable<void> downloader::session::leave() {
  co_await supernodes->leave(task.task_id, peer_id, peer_key);
}

void downloader::session::start_fetches(std::vector<proto::assignment>& got) {
  for (auto& a : got) {
    if (holds(a.piece)) {
      // Already here (resumed, or an endgame duplicate that lost the race):
      // say so, which frees the source, and fetch nothing.
      results.push_back({a.piece, proto::piece_status::ok, a.source, 0, 0, {}});
      continue;
    }
    ++in_flight;
    if (parents) parents->fetching(a.piece);
    fetches.spawn(fetch_piece(std::move(a), supernodes->bound().value_or(host_port{})));
  }
}

asio::awaitable<void> downloader::session::drive(steady::time_point started) {
  while (!fatal) {
    if (task.state == proto::task_state::failed) {
      fail_task(task);
      break;
    }
    if (complete() && in_flight == 0 && (asking || reporting)) {
      co_await wake.wait();  // the syncs beside end first (an answer may assign a piece)
      continue;
    }
    if (complete() && in_flight == 0) {
      std::vector<proto::assignment> none;
      // Report the last pieces (peers may fetch them from us); an outage now
      // does not undo a finished download.
      if (!results.empty()) co_await sync_once(0, 0, none);
      break;
    }
    if (since(last_progress) > opts.stall_timeout) {
      fail(errc::timeout,
           "no progress for " + std::to_string(opts.stall_timeout.count() / 1000) + " s");
      break;
    }
    if (opts.total_timeout.count() > 0 && since(started) > opts.total_timeout) {
      fail(errc::timeout, "download did not finish within " +
                              std::to_string(opts.total_timeout.count() / 1000) + " s");
      break;
    }
    const bool local = parents && !parents_off;
    if (local && in_flight == 0 && !asking && since(last_progress) > parents_patience) {
      // Nothing from the parents nor the supernode for a while (parents
      // gone, or holding nothing this peer lacks): every piece from the
      // supernode's central choice from now on.
      spdlog::info(
          "task {}: no piece from the parents for {} s ({} lacked, {} held by none of {} "
          "parents, {} of them given up); scheduled by the supernode now",
          task.task_id.substr(0, 12), parents_patience.count() / 1000,
          task.piece_count - static_cast<std::int64_t>(have_count), parents->orphans(),
          parents->size(), parents->gone());
      parents_off = true;
    }
    if (local) pick_from_parents();
    std::uint32_t free_slots = in_flight < slots ? slots - in_flight : 0;
    bool have_news = !results.empty();
    // Results are reported in batches when the supernode asks for it (many
    // peers): one sync per finished piece would make the control traffic grow
    // with the piece rate of every peer, on the supernode's link. The batch
    // counts results, not free slots: in a crowd sources are scarce, a peer
    // often has slots free, and syncing at each finished piece then gave two
    // assignments an answer. The next piece to finish is never far off, and
    // with nothing left in flight the peer reports at once.
    const std::uint32_t batch = std::max(1u, std::min(report_every, std::max(1u, slots / 2)));
    bool report_now = have_news && (results.size() >= batch || in_flight == 0 || complete());
    if (local && !parents_off) {
      // The parents give what they hold; the supernode is asked only for
      // pieces none of them holds, in a sync beside the local choice (held
      // at the supernode until it has one, while the origin still sends).
      // Results go in syncs of their own, in batches: a piece is held once
      // its signed digest checks, and the report only tells the supernode.
      // Asked whether or not a slot is free: the parents' pieces fill the
      // slots, and a peer asking only with a free slot left the supernode's
      // link (the swarm's bound) idle while pieces waited there (N=20:
      // 1.71x). The supernode's pieces go beyond the slots, two at most.
      const std::uint32_t want = complete() || parents->orphans() == 0 ? 0 : inject_beyond_slots;
      if (!asking && want > 0 && steady::now() >= ask_after) {
        asking = true;
        followers.spawn(sync_aside(want, 2000));
      }
      const bool prompt = std::any_of(results.begin(), results.end(), [](const auto& r) {
        return r.source == proto::supernode_source;  // frees a seed slot
      });
      const bool batch_due = results.size() >= 16 && steady::now() >= report_after;
      if (!reporting && have_news && (batch_due || prompt || complete() || !unconfirmed.empty())) {
        reporting = true;
        report_after = steady::now() + report_interval_with_parents;
        followers.spawn(sync_aside(0, 0));
      }
      // Woken by a finished piece, a parent's news or the sync; a while
      // without any is when the patience above is checked.
      co_await wake.wait_for(std::chrono::milliseconds(250));
      continue;
    }
    if (asking || reporting) {  // (parent sets were given up while one ran)
      co_await wake.wait();
      continue;
    }
    if (report_now || (!have_news && free_slots > 0 && !waiting_for_piece)) {
      // With nothing in flight, let the supernode hold the answer until it has
      // work; not an answer that holds pieces back: the supernode already
      // sends other peers to fetch them here.
      std::uint32_t wait_ms = in_flight == 0 && unconfirmed.empty() ? 2000 : 0;
      std::vector<proto::assignment> got;
      const std::uint32_t want = complete() ? 0 : free_slots;
      auto r = co_await sync_once(want, wait_ms, got);
      if (r == call::failed) break;
      if (r == call::retry) {
        co_await ride_out_outage(last_outage_error);
        continue;
      }
      const auto given = got.size();
      start_fetches(got);
      // An answer short of what was asked is all the supernode has for this
      // peer now: asking again at once brought back a 204 (a fifth of the
      // syncs of a crowd); the next finished piece is the time to ask.
      waiting_for_piece = given < want && in_flight > 0;
      continue;
    }
    co_await wake.wait();
    waiting_for_piece = false;
  }
}

asio::awaitable<download_outcome> downloader::run(
    const download_request& req, piece_store& store,
    const std::function<void(const download_progress&)>& on_progress,
    const std::function<void(std::uint64_t)>& on_piece) {
  auto started = steady::now();
  session s(ex_, *workers_, opts_, req, store, on_progress, on_piece);
  s.slots = opts_.parallel;
  // Pieces on disk are only worth keeping for the version they came from; with
  // no version to check them against, they are fetched again.
  if (!req.version.empty()) s.have = req.have;
  for (bool b : s.have) s.have_count += b ? 1 : 0;
  if (s.have_count > 0) s.task.version = req.version;
  s.peer_id = opts_.peer.peer_id;
  s.peer_key = req.peer_key;
  s.placement = placement_key(req.identity);
  s.supernodes = std::make_unique<supernode_client>(ex_, opts_.supernodes, s.client_options(),
                                                    opts_.cluster_token);
  auto register_result = session::call::retry;
  s.last_outage_error = "no supernode configured";
  if (!opts_.supernodes.empty()) register_result = co_await s.register_task();
  if (register_result == session::call::failed) co_return s.outcome;
  if (register_result == session::call::retry) {
    // Nobody to ask: fetch from the origin ourselves, unless told not to.
    if (!opts_.back_to_source) {
      s.fail(errc::supernode_unreachable, s.last_outage_error + "; back-to-source is off");
      co_return s.outcome;
    }
    if (!opts_.supernodes.empty()) {
      s.outcome.summary.fell_back = true;
      auto why = s.last_outage_error + "; downloading from the origin";
      spdlog::info("{}", why);
      if (opts_.on_fallback) opts_.on_fallback(why);
    }
    co_await s.from_origin();
    if (!s.fatal) co_await s.verify_whole();
    s.outcome.summary.elapsed = since(started);
    s.outcome.summary.content_length = s.task.content_length;
    s.outcome.summary.piece_size = s.task.piece_size;
    co_return s.outcome;
  }
  s.outcome.summary.task_id = s.task.task_id;
  if (s.task.piece_size > 0) {
    s.slots = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(
        opts_.buffer_budget / s.task.piece_size, std::min(2u, opts_.parallel), opts_.parallel));
    s.report_progress();
  }
  std::exception_ptr cancelled;
  try {
    co_await s.drive(started);
  } catch (...) {
    cancelled = std::current_exception();  // the host process is stopping
  }
  // Piece fetches refer to the session: they end before it does (a cancelled
  // coroutine would throw at its next co_await, so that is turned off first).
  co_await asio::this_coro::throw_if_cancelled(false);
  // Have streams never end by themselves; a sync beside the choice may be
  // waiting at the supernode.
  s.followers.cancel();
  if (cancelled) s.fetches.cancel();
  co_await s.followers.join();
  co_await asio::this_coro::throw_if_cancelled(false);  // join() turned it back on
  co_await s.fetches.join();
  if (cancelled) std::rethrow_exception(cancelled);
  if (!s.fatal) co_await s.verify_whole();
  if (!s.task.task_id.empty() && opts_.leave_when_done) co_await s.leave();
  s.outcome.summary.elapsed = since(started);
  s.outcome.summary.content_length = s.task.content_length;
  s.outcome.summary.piece_size = s.task.piece_size;
  s.outcome.summary.version = s.task.version;
  s.outcome.summary.last_modified = s.task.last_modified;
  co_return s.outcome;
}

}  // namespace damselfly::dfget
