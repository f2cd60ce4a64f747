// SPDX-License-Identifier: Apache-2.0
// A whole swarm in virtual time: the real scheduler, nodes running the engine's sync loop, capped
// links.
#include "swarm_sim.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "damselfly/proto/messages.hpp"
#include "damselfly/scheduler/piece_picker.hpp"
#include "damselfly/scheduler/swarm.hpp"
#include "fluid_link.hpp"

namespace damselfly::sim {

namespace {

using scheduler::piece_outcome;

/// HTTP/1.1 heads around a sync's JSON, measured on the wire once: request
/// line and headers with the token and peer key; the answer's status line and
/// Content-Length (a compact peer gets no Content-Type) after one packet's
/// Ethernet, IPv4 and TCP heads (66 bytes with timestamps: a pure ACK).
constexpr std::uint64_t packet_head = 66;
constexpr std::uint64_t request_head = 260;
constexpr std::uint64_t answer_head = packet_head + 40;
/// A sync answer with nothing new to a compact peer: a 204, its status line
/// alone (93 bytes a packet, as captured on the emulated supernode's link).
constexpr std::uint64_t no_content_answer = packet_head + 27;
/// A GET of a piece: its request (with ticket) and the 206 head before the bytes.
constexpr std::uint64_t piece_head = 420;
/// Parent-set protocol: a "have" notice to a child (a line on a stream the
/// child keeps open, in its own packet: 66 bytes of heads, a chunk's framing
/// and the piece number), a request to the
/// supernode for a piece to inject and its answer, a registration answer's
/// bytes per parent listed.
constexpr std::uint64_t have_notice = 80;
constexpr std::uint64_t inject_request = request_head + 80;
constexpr std::uint64_t inject_answer = answer_head + 160;
constexpr std::uint64_t parent_entry = 40;
/// Parent-set protocol: each piece travels with the supernode's signature of
/// its digest (a header: peers check what arrives without asking it).
constexpr std::uint64_t signed_digest = 140;
/// Parent-set protocol: a daemon reports finished pieces in syncs of their
/// own (dfget's downloader): 16 at a time at most once a second, at once
/// for a piece from the supernode (the report frees its slot) and when the
/// node is complete.
constexpr std::size_t report_batch_with_parents = 16;
constexpr double report_interval_with_parents = 1.0;

/// What ends when a transfer on a link ends.
struct on_end {
  enum kind {
    seed_piece,
    sync_request,
    sync_answer,
    piece,
    notices,
    report,
    report_answer
  } what = piece;
  std::uint32_t node = 0;
  std::uint64_t piece_index = 0;
  std::uint32_t source = 0;  ///< link index of the piece's source
};

struct node_state {
  bool alive = false, started = false, done = false;
  double start = 0, finish = -1;
  std::vector<bool> have;
  std::uint64_t have_count = 0;
  unsigned in_flight = 0;
  std::vector<proto::piece_result> results;  ///< not yet reported
  bool syncing = false;                      ///< a sync is out
  bool waiting_for_piece = false;
  std::uint32_t report_every = 1;
  std::string known_state;  ///< the task state the node last heard (empty: none)
  bool has_ticket = false;
  // The sync in progress at the supernode.
  std::vector<proto::piece_result> sent_results;
  std::uint32_t want = 0;
  std::uint32_t wait_ms = 0;
  double park_deadline = -1;
  std::uint64_t park_token = 0;
  std::vector<proto::assignment> answer;
  /// Transfers this node's fetches have on other links, to cancel if it dies.
  std::unordered_map<std::uint64_t, std::pair<std::uint32_t, std::uint64_t>> fetching;
  // Parent-set protocol.
  std::unique_ptr<scheduler::piece_picker> picker;
  std::vector<std::uint32_t> parent_nodes;  ///< node index per picker parent index
  /// Nodes that have this one as a parent, with its index in their pickers.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> children;
  std::unordered_map<std::uint64_t, std::uint32_t> asked_parent;  ///< piece -> picker parent
  unsigned uploads = 0;         ///< pieces this node is sending now
  std::size_t next_child = 0;   ///< where the next freed slot's round of children starts
  bool asking_seed = false;     ///< a request to the supernode is out
  bool waiting_seed = false;    ///< in the supernode's wait list
  bool parked_at_seed = false;  ///< its request to the supernode waits there for a piece
  std::vector<proto::piece_result> unreported;  ///< finished, not yet in a report
  /// Reports on their way to the supernode, oldest first.
  std::deque<std::vector<proto::piece_result>> reports_out;
  bool reporting = false;     ///< a report is out (one at a time, as the daemon)
  double report_after = 0;    ///< no batch reported before (simulated seconds)
  bool report_check = false;  ///< a look at report_after is scheduled
};

class simulation {
 public:
  explicit simulation(const sim_config& cfg)
      : cfg_(cfg),
        pieces_((cfg.size + cfg.piece_size - 1) / cfg.piece_size),
        swarm_(make_options(cfg), cfg.seed),
        rng_(cfg.seed) {
    double su = cfg.supernode_rate > 0 ? cfg.supernode_rate : cfg.node_rate;
    double ou = cfg.origin_rate > 0 ? cfg.origin_rate : cfg.node_rate;
    links_.emplace_back(ou);
    links_.emplace_back(su);
    for (std::uint32_t i = 0; i < cfg.nodes; ++i) links_.emplace_back(cfg.node_rate);
    link_ends_.resize(links_.size());
    nodes_.resize(cfg.nodes);
    swarm_.set_piece_count(pieces_);
    for (std::uint32_t i = 0; i < cfg.nodes; ++i) {
      nodes_[i].have.assign(pieces_, false);
      double at = cfg.join_spread > 0
                      ? std::uniform_real_distribution<double>(0, cfg.join_spread)(rng_)
                      : 0;
      schedule(at, [this, i] { start_node(i); });
    }
    if (cfg.kill > 0) schedule(cfg.kill_at, [this] { kill_some(); });
    schedule(1.0, [this] { expire_tick(); });
    for (unsigned k = 0; k < cfg.origin_concurrency && next_origin_piece_ < pieces_; ++k)
      fetch_from_origin();
  }

  sim_result run() {
    while (!queue_.empty()) {
      auto ev = queue_.top();
      queue_.pop();
      if (ev.t > cfg_.time_limit) break;
      now_ = ev.t;
      ++result_.events;
      actions_.at(ev.action)();
      actions_.erase(ev.action);
      if (finished_ + killed_ == cfg_.nodes) break;
    }
    return summarize();
  }

 private:
  struct event {
    double t;
    std::uint64_t seq;
    std::uint64_t action;
    bool operator>(const event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };

  static scheduler::swarm_options make_options(const sim_config& cfg) {
    scheduler::swarm_options o;
    o.seed_slots = cfg.seed_slots;
    if (cfg.per_source > 0) o.per_source_in_flight = cfg.per_source;
    return o;
  }

  scheduler::clock::time_point at(double t) const {
    return scheduler::clock::time_point{} + std::chrono::hours(1) +
           std::chrono::duration_cast<scheduler::clock::duration>(std::chrono::duration<double>(t));
  }

  void schedule(double t, std::function<void()> fn) {
    auto id = next_action_++;
    actions_.emplace(id, std::move(fn));
    queue_.push({t, seq_++, id});
  }

  static std::string peer_name(std::uint32_t i) { return "n" + std::to_string(i); }
  static std::string addr_of(std::uint32_t i) { return "10.0." + std::to_string(i) + ":65002"; }
  std::uint32_t link_of_source(const std::string& source) const {
    if (source == scheduler::supernode_source) return 1;
    return by_addr_.at(source) + 2;
  }
  std::uint64_t piece_length(std::uint64_t p) const {
    return std::min<std::uint64_t>(cfg_.piece_size, cfg_.size - p * cfg_.piece_size);
  }

  // Links: a transfer's end is an event; a link whose next end moved gets a
  // new event and the old one is ignored (its version is stale).
  void start_transfer(std::uint32_t link, double bytes, on_end what) {
    auto id = links_[link].start(bytes, now_);
    link_ends_[link][id] = what;
    if (what.what == on_end::piece) nodes_[what.node].fetching[id] = {link, what.piece_index};
    arm(link);
  }
  void cancel_transfer(std::uint32_t link, std::uint64_t id) {
    links_[link].cancel(id, now_);
    link_ends_[link].erase(id);
    arm(link);
  }
  void arm(std::uint32_t link) {
    double t = links_[link].next_end();
    if (t == fluid_link::never) return;
    auto version = links_[link].version();
    schedule(t, [this, link, version] {
      if (links_[link].version() != version) return;
      auto id = links_[link].pop_ended(now_);
      auto what = link_ends_[link].at(id);
      link_ends_[link].erase(id);
      arm(link);
      transfer_ended(id, what);
    });
  }

  void transfer_ended(std::uint64_t id, const on_end& what) {
    switch (what.what) {
      case on_end::seed_piece:
        seed_piece_cached(what.piece_index);
        break;
      case on_end::sync_request:
        schedule(now_ + cfg_.latency, [this, n = what.node] { sync_arrives(n); });
        break;
      case on_end::sync_answer:
        schedule(now_ + cfg_.latency, [this, n = what.node] { answer_arrives(n); });
        break;
      case on_end::notices:
        schedule(now_ + cfg_.latency, [this, w = what] { children_hear(w.node, w.piece_index); });
        break;
      case on_end::report:
        schedule(now_ + cfg_.latency, [this, n = what.node] { report_arrives(n); });
        break;
      case on_end::report_answer:
        schedule(now_ + cfg_.latency, [this, n = what.node] {
          nodes_[n].reporting = false;
          maybe_report(n);
        });
        break;
      case on_end::piece:
        nodes_[what.node].fetching.erase(id);
        if (cfg_.parent_sets) {
          upload_ended(what);
          schedule(now_ + cfg_.latency,
                   [this, w = what] { piece_arrives_from_parent(w.node, w.piece_index); });
          break;
        }
        schedule(now_ + cfg_.latency,
                 [this, w = what] { piece_arrives(w.node, w.piece_index, w.source); });
        break;
    }
  }

  // The supernode's origin fetch: `origin_concurrency` pieces at once, lowest first.
  void fetch_from_origin() {
    auto p = next_origin_piece_++;
    result_.origin_bytes += piece_length(p);
    start_transfer(0, static_cast<double>(piece_length(p) + piece_head),
                   {on_end::seed_piece, 0, p, 0});
  }
  void seed_piece_cached(std::uint64_t p) {
    timed([&] { swarm_.seed_has(p); });
    if (next_origin_piece_ < pieces_) fetch_from_origin();
    if (cfg_.parent_sets) {
      wake_seed_waiters();
      return;
    }
    wake_parked();  // the supernode wakes every parked sync when a piece is cached
  }
  /// As task::notify(): every sync waiting for work is handled again.
  void wake_parked() {
    std::vector<std::uint32_t> woken;
    woken.swap(parked_);
    for (auto n : woken) {
      if (!nodes_[n].alive || nodes_[n].park_deadline < 0) continue;
      nodes_[n].park_deadline = -1;
      enqueue_cpu(n);
    }
  }

  void start_node(std::uint32_t i) {
    if (cfg_.parent_sets) return start_node_with_parents(i);
    auto& n = nodes_[i];
    n.alive = n.started = true;
    n.start = now_;
    by_addr_[addr_of(i)] = i;
    scheduler::peer_info info{addr_of(i), "", "", cfg_.upload_slots, ""};
    timed([&] { swarm_.join(peer_name(i), info, {}, at(now_)); });
    result_.supernode_cpu += cfg_.register_cost;
    pump(i);
  }

  // The engine's loop (dfget/src/downloader.cpp), at each change of its state.
  void pump(std::uint32_t i) {
    auto& n = nodes_[i];
    if (!n.alive || n.syncing) return;
    bool complete = n.have_count == pieces_;
    if (complete && n.results.empty() && n.in_flight == 0) {
      if (!n.done) {
        n.done = true;
        n.finish = now_;
        ++finished_;
        result_.end = std::max(result_.end, now_);
      }
      return;
    }
    unsigned slots = cfg_.parallel;
    unsigned free_slots = n.in_flight < slots ? slots - n.in_flight : 0;
    bool have_news = !n.results.empty();
    std::uint32_t batch = std::max(1u, std::min(n.report_every, std::max(1u, slots / 2)));
    bool report_now = have_news && (n.results.size() >= batch || n.in_flight == 0 || complete);
    if (!(report_now || (!have_news && free_slots > 0 && !n.waiting_for_piece))) return;
    n.syncing = true;
    n.want = complete ? 0 : free_slots;
    // As the engine: no long poll for an answer that confirms pieces.
    bool confirms = std::any_of(n.results.begin(), n.results.end(),
                                [](const auto& r) { return r.status == proto::piece_status::ok; });
    n.wait_ms = n.in_flight == 0 && !confirms ? 2000 : 0;
    n.sent_results.swap(n.results);
    n.results.clear();
    proto::sync_request req;
    req.want = n.want;
    req.wait_ms = n.wait_ms;
    req.results = n.sent_results;
    req.version = std::string(40, 'v');
    req.known_state = n.known_state;
    if (n.has_ticket) req.ticket_tail = std::string(16, 't');
    req.compact = true;
    req.report_every = n.report_every;
    req.report_digests = true;
    auto bytes = proto::encode(req).size() + request_head;
    result_.control_bytes += bytes;
    ++result_.syncs;
    start_transfer(i + 2, static_cast<double>(bytes), {on_end::sync_request, i, 0, 0});
  }

  // The supernode handles syncs one at a time on one core (its executor).
  void sync_arrives(std::uint32_t i) {
    if (!nodes_[i].alive) return;
    enqueue_cpu(i);
  }
  void enqueue_cpu(std::uint32_t i) {
    cpu_queue_.push_back(i);
    if (!cpu_busy_) cpu_next();
  }
  void cpu_next() {
    while (!cpu_queue_.empty()) {
      auto i = cpu_queue_.front();
      cpu_queue_.pop_front();
      if (!nodes_[i].alive) continue;
      // Busy first: a sync's reports wake parked syncs (wake_parked), which
      // must queue behind it, not run inside it.
      cpu_busy_ = true;
      double cost = handle_sync(i);
      result_.supernode_cpu += cost;
      schedule(now_ + cost, [this, i] {
        cpu_busy_ = false;
        finish_sync(i);
        cpu_next();
      });
      return;
    }
  }
  /// Reports and assignments as api::sync does them; the CPU time it costs.
  double handle_sync(std::uint32_t i) {
    auto& n = nodes_[i];
    auto peer = peer_name(i);
    n.answer.clear();
    timed([&] {
      auto t = at(now_);
      swarm_.touch(peer, t);
      for (const auto& r : n.sent_results)
        swarm_.report(
            peer, r.piece,
            r.status == proto::piece_status::ok ? piece_outcome::ok : piece_outcome::unreachable,
            r.source, t);
      // As api::sync: reports wake the syncs waiting for work.
      if (!n.sent_results.empty()) wake_parked();
      for (const auto& d : swarm_.assign(peer, std::min(n.want, cfg_.max_assignments), t)) {
        // As api::sync answers a compact peer that reports digests: none.
        n.answer.push_back(
            {d.piece, d.piece * cfg_.piece_size, piece_length(d.piece), {}, d.source});
      }
    });
    n.sent_results.clear();
    result_.decisions += n.answer.size();
    return cfg_.sync_cost + cfg_.decision_cost * static_cast<double>(n.answer.size());
  }
  void finish_sync(std::uint32_t i) {
    auto& n = nodes_[i];
    if (!n.alive) return;
    // Nothing to give and the node may wait: held until a piece is cached
    // or the wait is over (the supernode's long poll).
    if (n.answer.empty() && n.want > 0 && n.wait_ms > 0 && n.park_deadline < 0) {
      n.park_deadline = now_ + n.wait_ms / 1000.0;
      ++result_.held;
      result_.supernode_cpu += cfg_.held_cost;
      auto token = ++n.park_token;
      parked_.push_back(i);
      schedule(n.park_deadline, [this, i, token] {
        auto& m = nodes_[i];
        if (m.park_token != token || m.park_deadline < 0) return;
        m.park_deadline = -1;
        m.wait_ms = 0;  // the deadline passed: answer now, empty
        send_answer(i);
      });
      return;
    }
    n.park_deadline = -1;
    send_answer(i);
  }
  void send_answer(std::uint32_t i) {
    auto& n = nodes_[i];
    proto::sync_response out;
    out.assignments = n.answer;
    out.compact = true;  // as api::sync answers the engine (a file of known length)
    // As api::sync answers: the task only when the node's view of its state
    // is out of date, the ticket only when the node lacks it (runs are far
    // shorter than a ticket's half life: no renewals).
    std::string state = swarm_.seed_count() == pieces_ ? "done" : "running";
    if (n.known_state != state) {
      proto::task_info info;
      info.task_id = std::string(64, 'a');
      info.state = state == "done" ? proto::task_state::done : proto::task_state::running;
      info.content_length = static_cast<std::int64_t>(cfg_.size);
      info.piece_size = cfg_.piece_size;
      info.piece_count = static_cast<std::int64_t>(pieces_);
      info.version = std::string(40, 'v');
      out.task = info;
      n.known_state = state;  // the answer is on its way; nothing is lost on these links
    }
    // As api::sync: report_every only when the node follows another value.
    std::uint32_t report_every = swarm_.peer_count() >= cfg_.batch_reports_from ? 4 : 1;
    if (report_every != n.report_every) out.report_every = report_every;
    if (!n.has_ticket) out.ticket = std::string(180, 't');
    n.has_ticket = true;
    bool nothing_new =
        out.assignments.empty() && !out.task && out.ticket.empty() && out.report_every == 0;
    if (out.report_every != 0) n.report_every = out.report_every;
    auto bytes = nothing_new ? no_content_answer : proto::encode(out).size() + answer_head;
    result_.control_bytes += bytes;
    result_.supernode_control_bytes += bytes;
    start_transfer(1, static_cast<double>(bytes), {on_end::sync_answer, i, 0, 0});
  }

  void answer_arrives(std::uint32_t i) {
    auto& n = nodes_[i];
    if (!n.alive) return;
    if (cfg_.parent_sets) return pump_with_parents(i);  // its registration answer
    n.syncing = false;
    for (const auto& a : n.answer) {
      ++n.in_flight;
      auto source = link_of_source(a.source);
      // The GET reaches the source after one latency; a dead source refuses.
      schedule(now_ + cfg_.latency, [this, i, a, source] {
        if (!nodes_[i].alive) return;
        if (source >= 2 && !nodes_[source - 2].alive) {
          schedule(now_ + cfg_.latency, [this, i, a] { piece_failed(i, a.piece, a.source); });
          return;
        }
        if (source == 1) result_.supernode_piece_bytes += a.length;
        start_transfer(source, static_cast<double>(a.length + piece_head),
                       {on_end::piece, i, a.piece, source});
      });
    }
    // As the engine: an answer short of what was asked is all there is now.
    n.waiting_for_piece = n.answer.size() < n.want && n.in_flight > 0;
    n.answer.clear();
    pump(i);
  }

  void piece_arrives(std::uint32_t i, std::uint64_t p, std::uint32_t source) {
    auto& n = nodes_[i];
    if (!n.alive) return;
    --n.in_flight;
    if (!n.have[p]) {
      n.have[p] = true;
      ++n.have_count;
    }
    // The engine reports what arrived hashed (sync_request::report_digests).
    n.results.push_back(
        {p, proto::piece_status::ok,
         source == 1 ? std::string(scheduler::supernode_source) : addr_of(source - 2), 0, 0,
         std::string(64, 'a')});
    n.waiting_for_piece = false;
    pump(i);
  }
  void piece_failed(std::uint32_t i, std::uint64_t p, const std::string& source) {
    auto& n = nodes_[i];
    if (!n.alive) return;
    --n.in_flight;
    n.results.push_back({p, proto::piece_status::unreachable, source, 0, 0, {}});
    n.waiting_for_piece = false;
    pump(i);
  }

  // The parent-set protocol. The supernode registers a node with `parents`
  // random other nodes (their bitmaps as it last heard them); from then on
  // the node hears from its parents directly and decides for itself.
  // The registration answer lists no parents: the node's first ask, a moment
  // later, finds more of the swarm registered (at a release, nodes register
  // within the same second), and a node given parents while few others had
  // registered made those few a clique with everyone after them (N=40:
  // 1.12x instead of 1.10x).
  void start_node_with_parents(std::uint32_t i) {
    auto& n = nodes_[i];
    n.alive = n.started = true;
    n.start = now_;
    n.picker = std::make_unique<scheduler::piece_picker>(
        pieces_, scheduler::piece_picker::options{}, cfg_.seed * 1000003 + i);
    by_addr_[addr_of(i)] = i;
    scheduler::peer_info info{addr_of(i), "", "", cfg_.upload_slots, ""};
    timed([&] { swarm_.join(peer_name(i), info, {}, at(now_)); });
    ++result_.syncs;
    result_.supernode_cpu += cfg_.register_cost;
    auto answer = answer_head + 200;
    result_.control_bytes += request_head + 200 + answer;
    result_.supernode_control_bytes += answer;
    start_transfer(1, static_cast<double>(answer), {on_end::sync_answer, i, 0, 0});
  }
  /// The supernode tops the node's parents up to cfg_.parents (the nodes
  /// that registered after it asked before); returns how many it added.
  /// Edges go both ways: each new parent hears of the node too — at its
  /// next sync in the programs, at once here.
  std::size_t add_parents(std::uint32_t i) {
    auto& n = nodes_[i];
    auto want = n.parent_nodes.size() < cfg_.parents
                    ? cfg_.parents - static_cast<unsigned>(n.parent_nodes.size())
                    : 0u;
    auto more = take_parents(i, want);
    for (auto q : more) take_parents(q, 0);
    return more.size();
  }
  /// What swarm::parents_for gives node i, added to its picker; the nodes.
  std::vector<std::uint32_t> take_parents(std::uint32_t i, unsigned want) {
    auto& n = nodes_[i];
    std::vector<std::string> more;
    timed([&] { more = swarm_.parents_for(peer_name(i), want); });
    std::vector<std::uint32_t> added;
    for (const auto& addr : more) {
      auto q = by_addr_.at(addr);
      auto slot = n.picker->add_parent(nodes_[q].have);
      n.parent_nodes.push_back(q);
      nodes_[q].children.emplace_back(i, slot);
      added.push_back(q);
    }
    return added;
  }
  void pump_with_parents(std::uint32_t i) {
    auto& n = nodes_[i];
    if (!n.alive) return;
    if (n.picker->complete()) {
      if (!n.done && n.in_flight == 0) {
        n.done = true;
        n.finish = now_;
        ++finished_;
        result_.end = std::max(result_.end, now_);
      }
      return;
    }
    unsigned free_slots = cfg_.parallel > n.in_flight ? cfg_.parallel - n.in_flight : 0;
    if (free_slots == 0) return;
    auto picks = n.picker->next(free_slots, [this, &n](std::uint32_t q) {
      const auto& parent = nodes_[n.parent_nodes[q]];
      return parent.alive && parent.uploads < child_slots();
    });
    for (const auto& pick : picks) {
      ++result_.local_picks;
      auto source = n.parent_nodes[pick.parent];
      n.asked_parent[pick.piece] = pick.parent;
      request_piece(i, pick.piece, source + 2);
    }
    if (picks.size() < free_slots && !n.asking_seed) ask_seed(i);
  }
  /// A daemon's uploads to parent-set children at once.
  unsigned child_slots() const { return std::min(cfg_.child_upload_slots, cfg_.upload_slots); }
  void request_piece(std::uint32_t i, std::uint64_t p, std::uint32_t link) {
    ++nodes_[i].in_flight;
    if (link >= 2) ++nodes_[link - 2].uploads;  // (the seed's slot is taken at its decision)
    schedule(now_ + cfg_.latency, [this, i, p, link] {
      if (link == 1) result_.supernode_piece_bytes += piece_length(p);
      start_transfer(link, static_cast<double>(piece_length(p) + piece_head + signed_digest),
                     {on_end::piece, i, p, link});
    });
  }
  /// The node asks the supernode for a piece none of its parents holds;
  /// the supernode tops up its parents and injects (swarm::inject: a piece
  /// nobody holds or fetches yet, within its seed slots) or it waits.
  void ask_seed(std::uint32_t i) {
    auto& n = nodes_[i];
    if (n.picker->orphans() == 0) return;  // its parents hold the rest: it waits for their slots
    auto given = add_parents(i);
    std::vector<scheduler::decision> got;
    timed([&] { got = swarm_.inject(peer_name(i), 1, at(now_)); });
    // A node woken from the wait list asks with the request it left waiting
    // there (a long poll): one sync however often it is woken.
    if (!n.parked_at_seed) {
      ++result_.syncs;
      result_.supernode_cpu += cfg_.sync_cost;
      result_.control_bytes += inject_request + inject_answer;
      result_.supernode_control_bytes += inject_answer;
    }
    result_.control_bytes += parent_entry * given;
    result_.supernode_control_bytes += parent_entry * given;
    if (got.empty()) {
      if (!n.parked_at_seed) {
        ++result_.held;
        result_.supernode_cpu += cfg_.held_cost;
      }
      n.parked_at_seed = true;
      if (!n.waiting_seed) {
        n.waiting_seed = true;
        seed_waiters_.push_back(i);
      }
      return;
    }
    n.parked_at_seed = false;
    result_.supernode_cpu += cfg_.decision_cost;
    auto best = got.front().piece;
    n.asking_seed = true;
    n.picker->fetching(best);
    ++result_.decisions;
    n.asked_parent[best] = scheduler::piece_picker::no_parent;
    // Request and answer each cross one latency; then the piece's GET.
    schedule(now_ + 3 * cfg_.latency, [this, i, best] {
      auto& m = nodes_[i];
      m.asking_seed = false;
      request_piece(i, best, 1);
      pump_with_parents(i);
    });
  }
  /// Waiters ask again while the supernode has a free slot, until one finds
  /// nothing new to inject (then none would).
  void wake_seed_waiters() {
    for (auto k = seed_waiters_.size(); k > 0 && swarm_.seed_load() < cfg_.seed_slots; --k) {
      auto w = seed_waiters_.front();
      seed_waiters_.pop_front();
      nodes_[w].waiting_seed = false;
      pump_with_parents(w);
      if (nodes_[w].waiting_seed) {
        // Nothing new for it: it keeps its place at the head of the line.
        seed_waiters_.pop_back();
        seed_waiters_.push_front(w);
        return;
      }
    }
  }
  /// A sending slot freed: the sender's children may now ask it.
  void upload_ended(const on_end& what) {
    const auto link = what.source;
    if (link == 1) {
      // The node's report of the injected piece frees the seed's slot.
      timed([&] {
        swarm_.report(peer_name(what.node), what.piece_index, piece_outcome::ok,
                      scheduler::supernode_source, at(now_));
      });
      wake_seed_waiters();
      return;
    }
    auto& sender = nodes_[link - 2];
    --sender.uploads;
    // One slot is free: children are asked in turn, from where the last
    // round stopped, until one takes it (or none has a use for it).
    auto count = sender.children.size();
    for (std::size_t k = 0; k < count && sender.uploads < child_slots(); ++k) {
      auto child = sender.children[(sender.next_child + k) % count].first;
      if (nodes_[child].in_flight < cfg_.parallel) pump_with_parents(child);
      if (sender.uploads == child_slots()) sender.next_child = (sender.next_child + k + 1) % count;
    }
  }
  void piece_arrives_from_parent(std::uint32_t i, std::uint64_t p) {
    auto& n = nodes_[i];
    if (!n.alive) return;
    --n.in_flight;
    auto parent = n.asked_parent.at(p);
    n.asked_parent.erase(p);
    n.picker->done(p, parent, true);
    n.have[p] = true;
    ++n.have_count;
    finished_piece(i, p,
                   parent == scheduler::piece_picker::no_parent
                       ? std::string(scheduler::supernode_source)
                       : addr_of(n.parent_nodes[parent]));
    // Its notices to every child leave on its own link, beside its uploads
    // (one transfer for all: they go out together).
    if (!n.children.empty()) {
      auto bytes = have_notice * n.children.size();
      result_.control_bytes += bytes;
      start_transfer(i + 2, static_cast<double>(bytes), {on_end::notices, i, p, 0});
    }
    pump_with_parents(i);
  }
  /// A piece held: its result waits for the node's next report.
  void finished_piece(std::uint32_t i, std::uint64_t p, std::string source) {
    proto::piece_result r;
    r.piece = p;
    r.status = proto::piece_status::ok;
    r.source = std::move(source);
    r.bytes = piece_length(p);
    r.duration_ms = 40;
    r.sha256 = std::string(64, 'a');  // reported as base64, as the daemon does
    nodes_[i].unreported.push_back(std::move(r));
    maybe_report(i);
  }
  /// As the daemon with parent sets: a report when 16 results wait, one
  /// is of a piece from the supernode, or the node holds every piece; the
  /// request on the node's link, a 204 on the supernode's.
  void maybe_report(std::uint32_t i) {
    auto& n = nodes_[i];
    if (!n.alive || n.reporting || n.unreported.empty()) return;
    const bool prompt = std::any_of(n.unreported.begin(), n.unreported.end(), [](const auto& r) {
      return r.source == scheduler::supernode_source;
    });
    if (!prompt && !n.picker->complete()) {
      if (n.unreported.size() < report_batch_with_parents) return;
      if (now_ < n.report_after) {
        // The daemon looks again at its next piece or within 250 ms.
        if (!n.report_check) {
          n.report_check = true;
          schedule(n.report_after, [this, i] {
            nodes_[i].report_check = false;
            maybe_report(i);
          });
        }
        return;
      }
    }
    n.report_after = now_ + report_interval_with_parents;
    proto::sync_request req;
    req.results = std::move(n.unreported);
    n.unreported.clear();
    req.version = std::string(40, 'v');
    req.known_state = n.known_state;
    req.ticket_tail = std::string(16, 't');
    req.compact = true;
    req.report_every = n.report_every;
    req.report_digests = true;
    req.parents = true;
    auto bytes = proto::encode(req).size() + request_head;
    result_.control_bytes += bytes;
    ++result_.syncs;
    ++result_.reports;
    n.reporting = true;
    n.reports_out.push_back(std::move(req.results));
    start_transfer(i + 2, static_cast<double>(bytes), {on_end::report, i, 0, 0});
  }
  /// The supernode takes a report: each piece from a parent is a holder
  /// more in its tables (the one from the supernode freed its slot when its
  /// upload ended, below), then a 204.
  void report_arrives(std::uint32_t i) {
    auto& n = nodes_[i];
    if (n.reports_out.empty()) return;
    auto batch = std::move(n.reports_out.front());
    n.reports_out.pop_front();
    if (!n.alive) return;
    result_.supernode_cpu += cfg_.sync_cost;
    timed([&] {
      for (const auto& r : batch)
        if (r.source != scheduler::supernode_source)
          swarm_.report(peer_name(i), r.piece, piece_outcome::ok, r.source, at(now_));
    });
    result_.control_bytes += no_content_answer;
    result_.supernode_control_bytes += no_content_answer;
    start_transfer(1, static_cast<double>(no_content_answer), {on_end::report_answer, i, 0, 0});
  }
  void children_hear(std::uint32_t i, std::uint64_t p) {
    for (const auto& [child, slot] : nodes_[i].children) {
      auto& c = nodes_[child];
      c.picker->parent_has(slot, p);
      // News of a piece the child holds or is fetching changes nothing.
      if (c.in_flight < cfg_.parallel && !c.picker->has(p) && !c.picker->in_flight(p))
        pump_with_parents(child);
    }
  }

  void kill_some() {
    std::vector<std::uint32_t> live;
    for (std::uint32_t i = 0; i < cfg_.nodes; ++i)
      if (nodes_[i].alive && !nodes_[i].done) live.push_back(i);
    std::shuffle(live.begin(), live.end(), rng_);
    live.resize(std::min<std::size_t>(live.size(), cfg_.kill));
    for (auto i : live) {
      auto& n = nodes_[i];
      n.alive = false;
      ++killed_;
      // Its uploads stop: receivers learn it at once (connection reset).
      auto link = i + 2;
      std::vector<std::pair<std::uint64_t, on_end>> lost(link_ends_[link].begin(),
                                                         link_ends_[link].end());
      for (const auto& [id, what] : lost) {
        cancel_transfer(link, id);
        if (what.what == on_end::piece)
          schedule(now_ + cfg_.latency, [this, w = what] {
            piece_failed(w.node, w.piece_index, addr_of(w.source - 2));
          });
      }
      for (const auto& [id, where] : std::unordered_map(n.fetching))
        cancel_transfer(where.first, id);
      n.fetching.clear();
      // The supernode notices when the peer stops syncing (peer_timeout).
    }
  }
  void expire_tick() {
    timed([&] { swarm_.expire(at(now_)); });
    schedule(now_ + 1.0, [this] { expire_tick(); });
  }

  template <class Fn>
  void timed(Fn&& fn) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    result_.scheduler_wall +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  sim_result summarize() {
    auto& r = result_;
    r.nodes = cfg_.nodes;
    double u = cfg_.node_rate;
    double su = cfg_.supernode_rate > 0 ? cfg_.supernode_rate : u;
    double ou = cfg_.origin_rate > 0 ? cfg_.origin_rate : u;
    double f = static_cast<double>(cfg_.size);
    r.t_min = std::max(f / ou, (cfg_.nodes + 1) * f / (ou + su + cfg_.nodes * u));
    std::vector<double> times;
    for (const auto& n : nodes_) {
      double t = n.done ? n.finish - n.start : -1;
      r.completion.push_back(t);
      if (n.done) times.push_back(t);
    }
    r.finished = static_cast<std::uint32_t>(times.size());
    if (!times.empty()) {
      std::sort(times.begin(), times.end());
      double sum = 0;
      for (double t : times) sum += t;
      r.mean = sum / static_cast<double>(times.size());
      r.p50 = times[times.size() / 2];
      r.last = times.back();
    }
    return r;
  }

  const sim_config& cfg_;
  std::uint64_t pieces_;
  scheduler::swarm swarm_;
  std::mt19937_64 rng_;
  double now_ = 0;
  std::priority_queue<event, std::vector<event>, std::greater<>> queue_;
  std::unordered_map<std::uint64_t, std::function<void()>> actions_;
  std::uint64_t next_action_ = 1, seq_ = 0;
  std::vector<fluid_link> links_;  ///< 0 origin, 1 supernode, 2+i node i
  std::vector<std::unordered_map<std::uint64_t, on_end>> link_ends_;
  std::vector<node_state> nodes_;
  std::unordered_map<std::string, std::uint32_t> by_addr_;
  std::uint64_t next_origin_piece_ = 0;
  std::vector<std::uint32_t> parked_;
  // Parent-set protocol: nodes waiting for a piece to inject.
  std::deque<std::uint32_t> seed_waiters_;
  std::deque<std::uint32_t> cpu_queue_;
  bool cpu_busy_ = false;
  std::uint32_t finished_ = 0, killed_ = 0;
  sim_result result_;
};

}  // namespace

sim_result run_swarm(const sim_config& cfg) {
  simulation s(cfg);
  return s.run();
}

}  // namespace damselfly::sim
