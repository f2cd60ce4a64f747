// SPDX-License-Identifier: Apache-2.0
// Task bookkeeping and change notification.
#include "task.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/piece_math.hpp"
#include "damselfly/common/secret_file.hpp"

namespace damselfly::supernode {

namespace asio = boost::asio;

task::task(asio::any_io_executor ex, std::string id_value, proto::register_request src, http_url u,
           scheduler::swarm_options swarm_opts)
    : id(std::move(id_value)),
      source(std::move(src)),
      url(std::move(u)),
      swarm(swarm_opts, std::hash<std::string>{}(id)),
      ex_(std::move(ex)),
      swarm_opts_(swarm_opts) {}

std::int64_t task::piece_count() const {
  if (content_length < 0 || piece_size == 0) return -1;
  return static_cast<std::int64_t>(
      damselfly::piece_count(static_cast<std::uint64_t>(content_length), piece_size));
}

bool task::digests_complete() const {
  auto n = piece_count();
  return n >= 0 && digests.size() == static_cast<std::uint64_t>(n) &&
         std::none_of(digests.begin(), digests.end(), [](const auto& d) { return d.empty(); });
}

proto::task_replica task::replica(std::uint64_t first, std::uint64_t count) const {
  proto::task_replica r;
  r.task_id = id;
  r.content_length = content_length;
  r.piece_size = piece_size;
  r.version = version;
  r.etag = etag;
  r.last_modified = last_modified;
  first = std::min<std::uint64_t>(first, digests.size());
  count = std::min<std::uint64_t>(count, digests.size() - first);
  r.first = first;
  auto from = digests.begin() + static_cast<std::ptrdiff_t>(first);
  r.digests.assign(from, from + static_cast<std::ptrdiff_t>(count));
  if (phase == task_phase::done) r.file_sha256 = file_sha256;
  r.held = swarm.held_total();
  r.peers = swarm.peer_count();
  return r;
}

void task::adopt(const proto::task_replica& r) {
  etag = r.etag;
  last_modified = r.last_modified;
  version = r.version;
  file_sha256 = r.file_sha256;
  set_layout(r.content_length, r.piece_size);
  learn_digests(r);
  from_replica = true;
  replica_held = r.held;
  replica_peers = r.peers;
  adopted_at = clock::now();
  owner_stopping = r.stopping;
  phase = task_phase::fetching;
  notify();
}

bool task::replica_gathered() const {
  return swarm.held_total() >= replica_held && swarm.peer_count() >= replica_peers;
}

bool task::describes(const proto::task_replica& r) const {
  return r.content_length == content_length && r.piece_size == piece_size && r.version == version &&
         r.etag == etag && r.last_modified == last_modified;
}

void task::learn_digests(const proto::task_replica& r) {
  for (std::uint64_t k = 0; k < r.digests.size() && r.first + k < digests.size(); ++k) {
    auto i = r.first + k;
    if (r.digests[k].empty() || !digests[i].empty()) continue;
    digests[i] = r.digests[k];
    swarm.digest_known(i);
  }
  if (file_sha256.empty()) file_sha256 = r.file_sha256;
}

bool task::all_ready() const {
  auto n = piece_count();
  return n >= 0 && ready_count == static_cast<std::uint64_t>(n);
}

proto::task_info task::info() const {
  proto::task_info i;
  i.task_id = id;
  switch (phase) {
    case task_phase::done:
      i.state = proto::task_state::done;
      break;
    case task_phase::failed:
      i.state = proto::task_state::failed;
      break;
    default:
      // A task taken over from a replica is as good as done for peers once
      // every digest is known: what the cache lacks, peers hold.
      i.state = from_replica && phase == task_phase::fetching && digests_complete()
                    ? proto::task_state::done
                    : proto::task_state::running;
      break;
  }
  // While probing or validating the layout is not settled: say nothing yet.
  bool settled = phase == task_phase::fetching || phase == task_phase::done;
  i.content_length = settled ? content_length : -1;
  i.piece_size = settled ? piece_size : 0;
  i.piece_count = settled ? piece_count() : -1;
  i.version = version;
  if (settled && last_modified.size() <= 64) i.last_modified = last_modified;
  if (i.state == proto::task_state::done) i.file_sha256 = file_sha256;
  i.error = error;
  return i;
}

void task::reset(task_phase next) {
  ++generation;
  phase = next;
  content_length = -1;
  piece_size = 0;
  digests.clear();
  ready.clear();
  ready_count = 0;
  etag.clear();
  last_modified.clear();
  version.clear();
  file_sha256.clear();
  from_replica = false;
  error.reset();
  fd.reset();
  swarm = scheduler::swarm(swarm_opts_, std::hash<std::string>{}(id) + generation);
  notify();
}

void task::set_layout(std::int64_t length, std::uint64_t piece_size_value) {
  content_length = length;
  piece_size = piece_size_value;
  auto n = piece_count();
  if (n >= 0) {
    digests.resize(static_cast<std::size_t>(n));
    ready.resize(static_cast<std::size_t>(n), false);
    swarm.set_piece_count(static_cast<std::uint64_t>(n));
  }
}

void task::piece_ready(std::uint64_t index, std::string sha256) {
  if (index >= ready.size()) {
    ready.resize(index + 1, false);
    digests.resize(index + 1);
  }
  if (!ready[index]) {
    ready[index] = true;
    ++ready_count;
  }
  digests[index] = std::move(sha256);
  swarm.seed_has(index);
  notify_central();
  notify_seed();
}

void task::fail(proto::error_info e) {
  phase = task_phase::failed;
  error = std::move(e);
  failed_at = clock::now();
  fd.reset();
  notify();
}

const std::string& task::issue_key(const std::string& peer, std::string_view presented) {
  auto& key = peer_keys[peer];
  if (key.empty() || !same_secret(key, presented)) key = random_hex(16);
  return key;
}

bool task::key_matches(const std::string& peer, std::string_view key) const {
  auto it = peer_keys.find(peer);
  return it != peer_keys.end() && same_secret(it->second, key);
}

void task::forget_departed() {
  std::erase_if(peer_keys, [&](const auto& k) { return !swarm.has_peer(k.first); });
  std::erase_if(tickets, [&](const auto& k) { return !swarm.has_peer(k.first); });
}

task::~task() {
  for (auto* queue : {&waiters_, &seed_waiters_})
    for (auto* w : *queue) w->queued = false;
}

void task::wake_all(held_queue& queue) {
  for (auto* w : queue) w->wake();
  queue.clear();
}

void task::expire(clock::time_point now) {
  auto seed_load = swarm.seed_load();
  swarm.expire(now);
  if (swarm.seed_load() < seed_load) notify_seed();
  // Central syncs are held only in small swarms (parent sets take over
  // from a few peers): looking again every few seconds costs little, and an
  // expired assignment frees an upload slot somewhere.
  notify_central();
}

void task::notify() {
  notify_central();
  wake_all(seed_waiters_);
}

void task::notify_central() {
  wake_all(waiters_);
}

void task::notify_seed() {
  if (seed_waiters_.empty()) return;
  seed_waiters_.front()->wake();
  seed_waiters_.pop_front();
}

asio::awaitable<void> task::wait_for_seed(std::chrono::milliseconds timeout) {
  return wait_in(seed_waiters_, timeout);
}

asio::awaitable<void> task::wait_for_change(std::chrono::milliseconds timeout) {
  return wait_in(waiters_, timeout);
}

asio::awaitable<void> task::wait_in(held_queue& queue, std::chrono::milliseconds timeout) {
  held me{asio::steady_timer(ex_, timeout)};
  auto at = queue.insert(queue.end(), &me);
  // However the wait ends (a cancelled sync unwinds by exception too), the
  // queue keeps no pointer to this frame.
  struct leave {
    held_queue& queue;
    held& me;
    held_queue::iterator at;
    ~leave() {
      if (me.queued) queue.erase(at);
    }
  } on_exit{queue, me, at};
  co_await me.timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace damselfly::supernode
