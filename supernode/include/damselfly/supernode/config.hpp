// SPDX-License-Identifier: Apache-2.0
// Supernode settings, filled from flags and the YAML config file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "damselfly/common/address_policy.hpp"
#include "damselfly/common/piece_math.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/tls_server_context.hpp"
#include "damselfly/scheduler/parent_set_defaults.hpp"

namespace damselfly::supernode {

struct supernode_config {
  std::string listen = "0.0.0.0:8002";
  /// When set, /api/v1 and /pieces requests must carry "Authorization: Bearer" it.
  std::string cluster_token;
  /// The jobs API (/api/v1/jobs) answers only requests carrying this
  /// ("Authorization: Bearer"); empty: the jobs API is off.
  std::string admin_token;
  /// Jobs running at once; more wait, pending.
  std::size_t max_running_jobs = 8;
  /// Finished jobs kept for GET (the oldest finished go first).
  std::size_t max_kept_jobs = 200;
  /// Serve HTTPS with these files (re-read on SIGHUP); empty: plain HTTP.
  tls_server_files tls;
  std::filesystem::path data_dir = "/var/lib/damselfly/supernode";
  piece_sizing sizing;
  /// Files larger than this (or than the cache's free space) are refused up
  /// front: the task fails with origin_too_large and nothing is allocated.
  std::uint64_t max_file_size = std::uint64_t{1} << 40;
  /// Which origin addresses may be fetched (see address_policy); null: the
  /// built-in rules only. The supernode adds its own listeners at start.
  std::shared_ptr<address_policy> origin_policy;
  /// Header names that carry credentials besides Authorization,
  /// Proxy-Authorization and Cookie: a registration with any of them makes a
  /// private task, served only to registrants with the same credentials.
  std::vector<std::string> credential_headers;
  /// Key of the private tasks' credential hashes and of the piece tickets;
  /// loaded at start from identity_key_file (created on first start).
  std::string identity_secret;
  /// Where identity_secret lives; empty: data_dir/identity.key. Supernodes of
  /// one fleet share one file, so a task moving between them keeps its
  /// private id and the tickets of any of them hold at every daemon.
  std::filesystem::path identity_key_file;
  /// The supernodes of the fleet as clients list them ("HOST:PORT", this one
  /// included); empty: this supernode works alone. Each task's owner
  /// replicates the task's layout and digests to the next supernode of the
  /// task's rendezvous order.
  std::vector<std::string> fleet;
  /// How clients name this supernode in `fleet`; empty: the listen address.
  std::string fleet_self;
  /// A supernode that took a task over from a replica waits this long for
  /// the task's peers to register before it fetches, from the origin, the
  /// pieces none of them holds: downloading peers come at once, seeders with
  /// their next heartbeat (every 3 s).
  std::chrono::milliseconds replica_grace{5'000};
  /// How often new digests go to the next supernodes. What the owner fetched
  /// within the last round is fetched again if it dies: at 1.25 GB/s from
  /// the origin, 100 ms is 125 MB. A round sends only new digests.
  std::chrono::milliseconds replicate_every{100};
  /// After a takeover, how long the successor fetches nothing from the
  /// origin while the task's owner answers again (its peers are going back).
  std::chrono::milliseconds owner_deference{15'000};
  /// After a takeover from an owner that stopped gracefully (a restart,
  /// usually), how long the successor waits for it to answer again before
  /// fetching from the origin what its peers lack.
  std::chrono::milliseconds owner_restart_wait{10'000};
  /// Replicas received from other supernodes kept at most (oldest dropped).
  std::size_t max_replicas = 4096;
  /// How long a piece ticket (issued with every sync answer) stays valid.
  std::chrono::seconds ticket_ttl{600};
  /// Parallel Range requests to the origin per task.
  unsigned origin_concurrency = 4;
  /// Tasks fetching from origins at once; further new tasks wait their turn.
  unsigned max_origin_fetches = 16;
  /// Unfinished tasks one client address may have started; a registration
  /// that would start another is refused with 429 too_many_tasks.
  unsigned max_tasks_per_address = 64;
  /// Connections one client address may hold open at once.
  unsigned max_connections_per_address = 256;
  /// Threads that read requests and write answers and pieces (TLS too),
  /// besides the one thread that holds the tasks and schedules; 0: that one
  /// thread does it all. Handlers run on the scheduling thread either way.
  unsigned connection_threads = 0;
  /// Longest wait for any single origin read/write to make progress.
  std::chrono::milliseconds origin_timeout{30'000};
  /// How https origins are trusted (CA store, verification); empty: the system store.
  std::shared_ptr<const tls_context> origin_tls;
  /// Set (--cluster-ca) when the fleet's supernodes speak TLS: replicas and
  /// owner probes go over it, each certificate checked against the name in
  /// --fleet.
  std::shared_ptr<const tls_context> fleet_tls;
  /// Attempts per piece against the origin before the task fails.
  unsigned origin_retries = 3;
  /// A cached task's source is re-checked (ETag/Last-Modified/length) at most this often.
  std::chrono::milliseconds recheck_interval{30'000};
  /// A failed task is fetched afresh by a registration arriving this long after the failure.
  std::chrono::milliseconds retry_failed_after{1'000};
  /// A failed task is forgotten (its memory freed) this long after it failed.
  std::chrono::milliseconds forget_failed_after{60'000};
  /// From this many peers on a task, peers are asked to report results in batches.
  std::size_t batch_reports_from = 8;
  /// Assignments handed out per sync at most.
  std::uint32_t max_assignments = 16;
  /// Longest a sync or registration answer is held back waiting for progress.
  std::chrono::milliseconds max_wait{5'000};
  /// Concurrent piece uploads per task the supernode itself serves. The
  /// scheduler assigns no more than this; requests from peers without an
  /// assignment are served only while fewer uploads than this are running.
  unsigned seed_slots = 8;
  /// The parent-set protocol: each peer that speaks it is given this many
  /// other peers as parents, picks its pieces among theirs, and gets from
  /// the supernode only pieces nobody holds yet. 0: the supernode decides
  /// every piece of every peer (central scheduling).
  unsigned parents = scheduler::parent_set_defaults::parents;
  /// ... once the task has had this many peers registered at once (from
  /// then on for the rest of the task); below it, central scheduling.
  std::size_t parents_from = scheduler::parent_set_defaults::from_peers;
  /// Concurrent uploads assumed for a peer that does not say.
  unsigned peer_upload_slots = 4;
  /// Piece upload rate of the supernode in bytes/s, all connections together; 0: unlimited.
  std::uint64_t upload_rate = 0;
  /// A peer that neither syncs nor heartbeats for this long is dropped with its holdings.
  std::chrono::milliseconds peer_timeout{15'000};
  /// An assignment not reported within this long returns to the pool.
  std::chrono::milliseconds assignment_timeout{30'000};
  /// Cached files are evicted, least recently registered first and never while
  /// a peer still downloads them, while the cache holds more than this (0: no quota) ...
  std::uint64_t cache_quota = 0;
  /// ... or its filesystem has less than this free (0: no watermark) ...
  std::uint64_t min_free = 0;
  /// ... or nobody registered for them for this long (0: no TTL).
  std::chrono::seconds cache_ttl{0};
};

}  // namespace damselfly::supernode
