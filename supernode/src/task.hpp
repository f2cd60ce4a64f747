// SPDX-License-Identifier: Apache-2.0
// One source file at the supernode: fetch progress, piece digests, swarm and waiters.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "damselfly/common/digest.hpp"
#include "damselfly/common/unique_fd.hpp"
#include "damselfly/common/url.hpp"
#include "damselfly/proto/messages.hpp"
#include "damselfly/scheduler/swarm.hpp"

namespace damselfly::supernode {

enum class task_phase {
  probing,     ///< first request to the origin in flight; length not known yet
  fetching,    ///< pieces arriving; ready ones are served
  validating,  ///< cached copy being re-checked against the origin
  done,
  failed,
};

class task {
 public:
  using clock = std::chrono::steady_clock;

  task(boost::asio::any_io_executor ex, std::string id, proto::register_request source,
       http_url url, scheduler::swarm_options swarm_opts);
  /// Syncs still held (frames destroyed with their executor, after the
  /// task) are told their queue is gone.
  ~task();
  task(const task&) = delete;
  task& operator=(const task&) = delete;

  const std::string id;
  const proto::register_request source;
  const http_url url;

  task_phase phase = task_phase::probing;
  /// Bumped whenever the task restarts; a fetch of an older generation stops.
  std::uint64_t generation = 0;
  std::int64_t content_length = -1;
  std::uint64_t piece_size = 0;
  std::vector<std::string> digests;  ///< per piece; empty until ready
  std::vector<bool> ready;
  std::uint64_t ready_count = 0;
  std::string etag;
  std::string last_modified;
  std::string version;
  std::string file_sha256;
  std::optional<proto::error_info> error;
  std::shared_ptr<const unique_fd> fd;
  clock::time_point validated_at{};
  clock::time_point failed_at{};
  clock::time_point last_used = clock::now();  ///< last registration, for LRU eviction
  std::string started_by;                      ///< client address whose registration created it
  bool queued = false;                         ///< waiting for an origin fetch slot
  /// Taken over from the owner's replica: every digest known, pieces in the
  /// cache only where no peer held them (the task may stay `fetching`).
  bool from_replica = false;
  /// Pieces the owner's peers held when it last sent the replica (see replica_grace).
  std::uint64_t replica_held = 0;
  /// Peers the owner had registered for the task when it last sent the replica.
  std::uint64_t replica_peers = 0;
  clock::time_point adopted_at{};  ///< when it was taken over
  bool owner_stopping = false;     ///< the replica came from a graceful stop
  bool fetch_running = false;      ///< an origin fetch of this task holds a slot
  bool parent_sets = false;        ///< its swarm reached cfg.parents_from peers
  unsigned uploads_active = 0;     ///< piece uploads by the supernode in progress
  // What the dashboard shows of the task's traffic (over this object's life).
  std::uint64_t origin_bytes = 0;  ///< body bytes the origin sent
  std::uint64_t served_bytes = 0;  ///< piece bytes this supernode sent to peers
  std::uint64_t peer_bytes = 0;    ///< piece bytes peers reported fetched from peers
  /// Each registered peer's key: only its holder may act as that peer.
  std::unordered_map<std::string, std::string> peer_keys;
  /// The piece ticket last issued to each peer, renewed once half its life is gone.
  struct issued_ticket {
    std::string text;
    std::int64_t expires = 0;  ///< unix seconds
  };
  std::unordered_map<std::string, issued_ticket> tickets;
  scheduler::swarm swarm;

  /// Number of pieces when the length is known, else -1.
  std::int64_t piece_count() const;
  /// Whether the digest of every piece is known (from the cache or a replica).
  bool digests_complete() const;
  /// What the next supernode of the task's order needs to take it over: the
  /// layout and the digests of pieces [first, first + count) (clamped).
  proto::task_replica replica(std::uint64_t first, std::uint64_t count) const;
  /// Takes the layout, version and digests of the owner's replica: peers
  /// holding pieces can be scheduled before this supernode holds any.
  void adopt(const proto::task_replica& r);
  /// Taken over from a replica: whether the owner's peers are here again,
  /// as many as it last counted, holding as many pieces. (The held count
  /// alone was reached by the first two of ten peers, and the pieces only
  /// the other eight held were fetched from the origin again.)
  bool replica_gathered() const;
  /// Whether `r` is of this task's layout and version.
  bool describes(const proto::task_replica& r) const;
  /// Takes the digests `r` has that this task lacks (a run arriving after a
  /// takeover); each makes its piece assignable.
  void learn_digests(const proto::task_replica& r);
  bool all_ready() const;
  /// Still to be fetched from the origin: queued, probing or fetching.
  bool unfinished() const { return phase == task_phase::probing || phase == task_phase::fetching; }
  proto::task_info info() const;

  /// Clears everything learned from the origin and bumps the generation.
  void reset(task_phase next);
  /// Sizes the piece tables once the length (or -1) and piece size are known.
  void set_layout(std::int64_t length, std::uint64_t piece_size_value);
  /// Records a verified-by-us piece as cached and assignable.
  void piece_ready(std::uint64_t index, std::string sha256);
  void fail(proto::error_info e);
  /// The key to answer `peer`'s registration with: the one it presented if
  /// that is its key, else a fresh one (which voids any earlier key).
  const std::string& issue_key(const std::string& peer, std::string_view presented);
  /// Whether `key` is `peer`'s (a peer without a key has none to match).
  bool key_matches(const std::string& peer, std::string_view key) const;
  /// Forgets the keys and tickets of peers no longer in the swarm.
  void forget_departed();

  /// Drops the swarm's timed-out assignments and silent peers (swarm::expire),
  /// and wakes the held syncs that may now have something: the longest-held
  /// ask for a seed slot freed (a piece injected into a peer that fell
  /// silent, to inject again) and the central syncs.
  void expire(clock::time_point now);
  /// Wakes everyone waiting: in wait_for_change() and in wait_for_seed().
  void notify();
  /// Wakes the syncs in wait_for_change() only: news for central
  /// scheduling (a report: a holder more, a slot freed) that changes
  /// nothing for an ask held for a piece to inject.
  void notify_central();
  /// The supernode may have a piece to inject (one cached, a seed slot
  /// freed, an injection lost): wakes the longest-held ask in
  /// wait_for_seed(), not all of them. Each piece is injected once, so
  /// waking every held ask for each ran `swarm::inject` once per held ask to
  /// hand the piece to one (10,000 peers: 2.5 million runs for 256 pieces).
  /// An ask that gets a piece calls it again, for the next.
  void notify_seed();
  /// Suspends until notify() or notify_central() or `timeout`.
  boost::asio::awaitable<void> wait_for_change(std::chrono::milliseconds timeout);
  /// An ask for pieces to inject, held: suspends until notify(),
  /// notify_seed() picks it, or `timeout`.
  boost::asio::awaitable<void> wait_for_seed(std::chrono::milliseconds timeout);

 private:
  boost::asio::any_io_executor ex_;
  scheduler::swarm_options swarm_opts_;
  /// A held sync: woken by cancelling its timer.
  struct held {
    boost::asio::steady_timer timer;
    bool queued = true;  ///< still in its queue (a notify takes it out)
    /// Marks it out of its queue (the caller takes it out) and ends its wait.
    void wake() {
      queued = false;
      timer.cancel();
    }
  };
  /// A list, not a deque: a held sync that times out leaves from where it
  /// stands in O(1) (thousands are held at once).
  using held_queue = std::list<held*>;
  /// Holds the caller in `queue` until a notify takes it out or `timeout`.
  boost::asio::awaitable<void> wait_in(held_queue& queue, std::chrono::milliseconds timeout);
  /// Wakes and takes out every sync held in `queue`.
  static void wake_all(held_queue& queue);

  held_queue waiters_;
  held_queue seed_waiters_;  ///< longest held first
};

}  // namespace damselfly::supernode
