// SPDX-License-Identifier: Apache-2.0
// The v1 messages between dfget and the supernode, with JSON conversion.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "damselfly/common/task_id.hpp"

namespace damselfly::proto {

/// Where a task stands at the supernode.
enum class task_state {
  running,  ///< the supernode is fetching from the origin; some pieces may be ready
  done,     ///< every piece is cached; length and whole-file digest are final
  failed,   ///< the origin fetch failed; `error` says why
};

/// What became of one piece download, as the peer reports it at its next sync.
enum class piece_status { ok, bad_digest, unreachable, error };

/// The `source` of an assignment (and result) served by the supernode itself;
/// any other source is a peer's "host:port".
inline constexpr std::string_view supernode_source = "supernode";

/// What a local client asks its daemon for.
enum class local_command { download, cache_list, cache_rm, cache_gc };

/// The kind of a line the daemon answers a local client with.
enum class local_event_kind { progress, done, error };

/// Why something failed, as JSON error answers and failed tasks carry it.
struct error_info {
  std::string code;       ///< stable machine-readable name, e.g. "origin_http_error"
  std::string message;    ///< one line for a human
  std::string field;      ///< for bad requests: the offending field, else empty
  int origin_status = 0;  ///< HTTP status the origin answered, when that is the cause
};

/// POST /api/v1/tasks: a peer asks for a source file.
struct register_request {
  /// url (required), filters, tag, digest ("sha256:HEX" or "md5:HEX"),
  /// identifier: flat fields in the JSON form; the range is not sent.
  task_identity identity;
  std::map<std::string, std::string> headers;  ///< sent to the origin with every fetch
  std::string peer_id;                         ///< required: the registering peer
  std::string upload_addr;         ///< "host:port" where it serves pieces; empty if none
  std::string idc;                 ///< the peer's IDC, for source preference
  std::string location;            ///< "a|b|c": more shared leading parts is closer
  std::uint32_t upload_slots = 0;  ///< concurrent uploads it accepts; 0: the supernode's default
  std::string bitmap;              ///< pieces already held (after a restart), see encode_bitmap
  std::string version;  ///< the source version `bitmap` belongs to; another version voids it
};

/// The supernode's view of a task, part of several answers.
struct task_info {
  std::string task_id;
  task_state state = task_state::running;
  std::int64_t content_length = -1;  ///< -1 while unknown (origin sent no length)
  std::uint64_t piece_size = 0;
  std::int64_t piece_count = -1;  ///< -1 while unknown
  std::string version;            ///< changes whenever the source content changes
  std::string file_sha256;        ///< set once done
  /// The origin's Last-Modified as it sent it (at most 64 characters; empty:
  /// none), which clients give the file they write, as wget does.
  std::string last_modified;
  std::optional<error_info> error;  ///< set when failed
  /// Registration answers only: the registered peer's key, which its sync,
  /// leave, heartbeat and re-registration must present (X-Damselfly-Peer-Key).
  std::string peer_key;
  /// Registration answers only: the supernode's public key (64 hex), which
  /// checks the piece tickets of this task's peers (X-Damselfly-Ticket).
  std::string ticket_key;
};

/// POST /api/v1/replicas, from a task's owner to the next supernode in the
/// task's order: what that supernode needs to take the task over without
/// the owner — the layout, the version and the piece digests computed so
/// far — so it schedules peers at once and never trusts digests peers report.
/// Each message carries one run of digests (those new since the last
/// message, usually); the receiver merges runs of the same version.
/// Signed with the fleet's identity key (X-Damselfly-Fleet-Signature).
struct task_replica {
  std::string task_id;
  std::int64_t content_length = 0;  ///< known: only settled layouts are replicated
  std::uint64_t piece_size = 0;
  std::string version;
  std::string etag;
  std::string last_modified;
  /// The piece digests[0] is of: digests[k] is piece first + k's.
  std::uint64_t first = 0;
  /// Lowercase hex SHA-256 per piece of the run; empty: not in this message
  /// (the owner has not fetched it, or sent it before).
  std::vector<std::string> digests;
  std::string file_sha256;   ///< once the owner has the whole file
  std::int64_t sent_at = 0;  ///< unix seconds; stale replicas are refused
  /// Pieces the task's peers hold at the owner, counted once per holder: a
  /// successor taking over waits until its peers have announced as many
  /// before it asks the origin for what none holds.
  std::uint64_t held = 0;
  /// Peers registered for the task at the owner: a successor also waits
  /// until as many have registered with it. The held count alone goes out
  /// at most once a second and a swarm can double its holdings in that
  /// time: the first two peers to come could exceed a stale count, and the
  /// origin was asked for pieces the others held.
  std::uint64_t peers = 0;
  /// Sent by a supernode stopping gracefully (SIGTERM): likely a restart, so
  /// a successor taking over waits a while for it to answer again before it
  /// asks the origin for anything.
  bool stopping = false;
};

/// The answer to a task_replica: how many of the task's digests the receiver
/// now holds for that version. Fewer than the sender delivered means it lost
/// some (a restart before they reached its disk): the sender sends all again.
struct replica_receipt {
  std::uint64_t known = 0;
};

/// Outcome of one piece download, reported by the peer at its next sync.
struct piece_result {
  std::uint64_t piece = 0;
  piece_status status = piece_status::ok;
  std::string source;  ///< supernode_source or the serving peer's "host:port"
  std::uint64_t bytes = 0;
  std::uint64_t duration_ms = 0;
  /// SHA-256 (hex) of what arrived, for an ok piece assigned without a
  /// digest: the supernode checks it (sync_request::report_digests). Base64
  /// as "digest" on the wire.
  std::string sha256;
};

/// POST /api/v1/tasks/{task}/peers/{peer}/sync
struct sync_request {
  std::vector<piece_result> results;
  std::uint32_t want = 0;  ///< how many new assignments the peer can take
  std::uint32_t wait_ms =
      0;                ///< how long the supernode may hold the answer when nothing is assignable
  std::string version;  ///< the task version the peer downloads; a change fails the sync
  /// The task state the peer last heard (empty: none, or an older client):
  /// an answer leaves the task out while state and version are unchanged.
  std::string known_state;
  /// The last 16 characters of the ticket the peer holds (empty: none): an
  /// answer leaves the ticket out while it is still the current one.
  std::string ticket_tail;
  /// The peer reads compact answers (sync_response::compact).
  bool compact = false;
  /// The report_every the peer follows now (0: not said, an older client):
  /// an answer then carries report_every only when it changes.
  std::uint32_t report_every = 0;
  /// The peer reports the SHA-256 of each piece it fetched and the supernode
  /// checks it, so compact assignments need not carry digests: the digests
  /// travel on the peers' links towards the supernode instead of on the
  /// supernode's upload, which the pieces need.
  bool report_digests = false;
  /// The parent-set protocol: the peer picks its pieces itself among what
  /// the parents the supernode gives it hold (have notices from each), and
  /// asks the supernode only for pieces none of them holds. A supernode
  /// scheduling the task so then answers with new parents and injects
  /// (docs/api.md, "Parent sets"); one that does not ignores it.
  bool parents = false;
};

/// One piece to fetch, with where from and what it must hash to.
struct assignment {
  std::uint64_t piece = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::string sha256;
  std::string source;  ///< supernode_source or a peer's "host:port"
};

struct sync_response {
  /// Left out when the request's known_state and version match the task's:
  /// most syncs of a download then carry only their assignments, which
  /// keeps the supernode's link for pieces.
  std::optional<task_info> task;
  std::vector<assignment> assignments;
  /// Finished pieces the supernode would like reported per sync: more when
  /// many peers share it, fewer syncs on its link. A peer may report sooner.
  /// 0: not said — to a peer that sent its own, unchanged; to one that did
  /// not (an older client), 1.
  std::uint32_t report_every = 0;
  /// Lets this peer fetch the task's pieces from the supernode and other
  /// peers for a few minutes: sent as X-Damselfly-Ticket with each piece
  /// request. An answer carries it when the peer's ticket_tail does not
  /// name the current one (new, or renewed at half its life).
  std::string ticket;
  /// The assignments' compact form on the wire, for a peer that asked and a
  /// task of known length: each is [piece, source index, digest in base64]
  /// with the sources listed once per answer; the offset and length follow
  /// from the task's layout (expand_compact fills them in on receipt, and
  /// leaves them 0 until then). About half the full form's bytes. For a peer
  /// that reports digests, [piece, source index]: sha256 stays empty.
  bool compact = false;
  /// Pieces this sync reported fetched whose digest did not check out (or
  /// could not be checked here): the peer holds none of them and fetches
  /// them again. The supernode counts none of them as held by the peer.
  std::vector<std::uint64_t> rejected;
  /// The parent-set protocol: parents this peer was not given before, as
  /// "host:port" (at most 64 an answer). Their presence tells the peer the
  /// task is scheduled so: its assignments are then only what the
  /// supernode injects.
  std::vector<std::string> parents;
  /// The parent-set protocol: the supernode schedules this task so, whether
  /// or not this answer brings new parents.
  bool parent_sets = false;
};

/// POST /api/v1/hosts/{host}/heartbeat: a daemon says it is alive and which
/// tasks it serves.
/// Where a job stands.
enum class job_state { pending, running, done, failed, cancelled };

/// A daemon's word on a job it was given: in its heartbeats until the
/// supernode stops listing the job for it.
struct job_report {
  std::string id;
  job_state state = job_state::running;
  std::uint64_t bytes = 0;
  std::string error;  ///< when failed: one line
};

/// A job for a daemon, in a heartbeat answer: download this into the cache.
struct job_order {
  std::string id;
  task_identity identity;  ///< flat in the JSON form, as in a registration
  std::map<std::string, std::string> headers;
};

struct heartbeat_request {
  std::string upload_addr;
  std::vector<std::string> tasks;
  /// The host's peer key per task (from its registration answers); a task
  /// whose key is missing or wrong is answered as unknown.
  std::map<std::string, std::string> peer_keys;
  std::string idc;       ///< this host's IDC (jobs may be narrowed to one)
  std::string location;  ///< "a|b|c"
  std::vector<job_report> job_reports;
  /// The key this supernode gave the host in an earlier answer (empty the
  /// first time): while the host is alive only its holder speaks for it.
  std::string host_key;
};

/// Tasks in the heartbeat the supernode does not know this host for: the host
/// registers them again (with its bitmap) so they can be served.
struct heartbeat_response {
  std::vector<std::string> unknown_tasks;
  std::vector<job_order> jobs;  ///< jobs this host is to run (again listed until reported)
  std::string host_key;         ///< the key to present in the host's next heartbeats
};

/// The dfget CLI asks its local daemon (one JSON line on the unix socket).
struct local_request {
  local_command command = local_command::download;
  std::string task;  ///< cache_rm: the task id
  /// download: the task, flat in the JSON form; its url is required.
  task_identity identity;
  /// download: required, absolute path of the file to publish. The client
  /// creates the temporary output itself and sends its descriptor with the
  /// request (SCM_RIGHTS); the daemon writes through that descriptor only,
  /// and the client renames it into place, so nothing is written with the
  /// daemon's rights. The path is for messages.
  std::string output;
  std::map<std::string, std::string> headers;
  bool no_back_source = false;  ///< fail rather than fetch from the origin without a supernode
  /// PEM text of the CAs trusted for an https origin (the client reads the
  /// file, with its own rights); empty: the system store.
  std::string ca_pem;
  bool insecure = false;  ///< do not verify an https origin's certificate
  /// The supernodes the client was given ("host:port"); a daemon using
  /// others says so in its answer rather than ignore them silently.
  std::vector<std::string> supernodes;
  std::uint64_t limit_rate = 0;  ///< bytes/s cap of this download; 0: the daemon's default
  /// This download's own timing and effort (0: the daemon's settings):
  /// connect and read timeouts (at most an hour), pieces in flight (it can
  /// only lower the daemon's; at most 64) and attempts per piece (at most 100).
  std::uint32_t connect_timeout_ms = 0;
  std::uint32_t read_timeout_ms = 0;
  std::uint32_t parallel = 0;
  std::uint32_t piece_tries = 0;
  /// The --totallimit the client would give a daemon it starts (0: none);
  /// a running daemon with another says so rather than ignore it silently.
  std::uint64_t total_limit = 0;
  /// The client takes the daemon's cached file itself as its output (a hard
  /// link, no copy) if the daemon offers it: a new regular file, not a resume.
  bool accept_shared = false;
};

/// One task in the daemon's cache, as `dfget cache list` shows it.
struct cache_entry {
  std::string task_id;
  std::string url;
  std::uint64_t bytes = 0;  ///< on disk
  bool complete = false;
  std::int64_t last_used = 0;  ///< unix seconds
};

/// The daemon's answers, one JSON line each: "progress" events, then one
/// "done" or "error".
struct local_event {
  local_event_kind event = local_event_kind::progress;
  std::uint64_t bytes = 0;
  std::int64_t total = -1;
  std::uint64_t from_supernode = 0;
  std::uint64_t from_peers = 0;
  std::uint64_t from_origin = 0;  ///< bytes the daemon fetched from the origin itself
  std::uint64_t elapsed_ms = 0;
  std::uint32_t failovers = 0;  ///< on done: times the download moved to another supernode
  std::string code;             ///< on error: stable name of the failure
  int exit_code = 0;            ///< on error: what the CLI exits with
  std::string message;          ///< on error: one line for the user
  std::string warning;          ///< on done: something the user should know, or empty
  std::string last_modified;    ///< on done: the origin's Last-Modified (at most 64 characters)
  /// On done: the output was not written; a read-only descriptor of the
  /// daemon's cached file rides with this line (SCM_RIGHTS) for the client
  /// to link in its place (or copy, where it cannot link).
  bool shared = false;
  std::vector<cache_entry> tasks;  ///< cache_list answers; cache_rm/cache_gc: what was removed
};

/// Body of every non-2xx JSON answer.
struct error_response {
  error_info error;
};

std::string_view to_string(task_state s) noexcept;
std::string_view to_string(piece_status s) noexcept;
std::string_view to_string(local_command c) noexcept;
std::string_view to_string(local_event_kind e) noexcept;
std::optional<piece_status> parse_piece_status(std::string_view text) noexcept;

/// POST /api/v1/jobs: have a file brought somewhere before anyone asks for it.
struct job_request {
  std::string type = "preheat";  ///< the one kind of job
  /// url (required), filters, tag, digest, identifier: flat in the JSON form,
  /// as in a registration (the same task as dfget with the same flags).
  task_identity identity;
  std::map<std::string, std::string> headers;  ///< sent to the origin
  /// "supernode": into the supernode's cache; "all_peers": onto daemons too.
  std::string scope = "supernode";
  /// all_peers: only daemons of this IDC / whose location starts with this
  /// ("a|b" takes "a|b" and "a|b|c"); only these hosts (ids or upload
  /// addresses); a percentage of those that match (1-100).
  std::string idc;
  std::string location;
  std::vector<std::string> hosts;
  std::uint32_t percentage = 100;
};

/// One place a job brings the file to, and how far it got.
struct job_target {
  std::string host;  ///< "supernode", or a daemon's host id
  job_state state = job_state::pending;
  std::uint64_t bytes = 0;  ///< bytes held so far
  std::string error;        ///< when failed: why
};

/// GET /api/v1/jobs/{id}, and the answer to its creation.
struct job_status {
  std::string id;
  job_request request;
  job_state state = job_state::pending;
  std::int64_t created = 0;   ///< unix seconds
  std::int64_t finished = 0;  ///< unix seconds; 0 while pending or running
  std::string task_id;
  std::int64_t content_length = -1;  ///< once known
  std::vector<job_target> targets;   ///< every host the job covers
  std::optional<error_info> error;   ///< when failed: the first reason
};

/// GET /api/v1/jobs: the recent jobs, newest first.
struct job_list {
  std::vector<job_status> jobs;
};

/// GET /api/v1/tasks: a task as an operator follows it (the dashboard's task table).
struct task_summary {
  task_info task;  ///< state, layout, error: flat in the JSON form (no keys)
  /// The source URL without its query and fragment: a signed URL's
  /// credentials are not shown. "?" marks that a query was cut.
  std::string url;
  std::string phase;                ///< queued, probing, fetching, validating, done, failed
  std::uint64_t cached_pieces = 0;  ///< in the supernode's cache
  std::uint32_t peers = 0;          ///< registered and not timed out
  std::uint64_t peer_copies = 0;    ///< pieces held by peers, counted per holder
  std::uint64_t origin_bytes = 0;   ///< body bytes the origin sent for it
  std::uint64_t served_bytes = 0;   ///< piece bytes the supernode sent to peers
  std::uint64_t peer_bytes = 0;     ///< piece bytes peers reported fetched from peers
  std::int64_t idle_s = 0;          ///< seconds since its last registration
};

/// GET /api/v1/tasks: every task this supernode knows, most recently used first.
struct task_list {
  std::vector<task_summary> tasks;
};

/// GET /api/v1/tasks/{task}/pieces: how many peers hold each piece (the heat map).
struct piece_map {
  std::string task_id;
  std::vector<std::uint32_t> holders;  ///< per piece, peers only
  std::string cached;                  ///< bitmap: pieces in the supernode's cache
};

/// GET /api/v1/hosts: a daemon as its heartbeats, registrations and its
/// peers' piece reports describe it (the dashboard's peer table).
struct host_summary {
  std::string host;         ///< its host id (peer id)
  std::string upload_addr;  ///< where it serves pieces
  std::string address;      ///< the address its requests come from
  std::string idc;
  std::string location;
  std::uint32_t tasks = 0;             ///< tasks it is registered for
  std::uint64_t downloaded_bytes = 0;  ///< piece bytes it reported fetched
  std::uint64_t uploaded_bytes = 0;    ///< piece bytes others reported fetched from it
  std::uint64_t download_rate = 0;     ///< bytes/s over the last seconds
  std::uint64_t upload_rate = 0;       ///< bytes/s over the last seconds
  std::int64_t last_seen_ms = 0;       ///< since its last request
};

/// GET /api/v1/hosts: the hosts heard from recently, and the supernode's own upload.
struct host_list {
  std::vector<host_summary> hosts;
  std::uint64_t supernode_uploaded_bytes = 0;
  std::uint64_t supernode_upload_rate = 0;
};

std::string_view to_string(job_state s) noexcept;

/// The one bitmap codec of the protocol and the records: '1' for a piece
/// held, '0' for one missing, in piece order.
std::string encode_bitmap(const std::vector<bool>& have);
/// Any character but '1' reads as missing (the decoders reject such text).
std::vector<bool> decode_bitmap(std::string_view text);

/// A decode failure names the field at fault (empty when the text is not JSON at all).
struct decode_error {
  std::string field;
  std::string message;
};

/// Either a message or why it could not be decoded.
template <class T>
struct decoded {
  std::optional<T> value;
  decode_error error;
  explicit operator bool() const noexcept { return value.has_value(); }
};

/// JSON text of a message.
template <class T>
std::string encode(const T& msg);

/// Parses JSON text into a message. Unknown fields are ignored; missing or
/// mistyped required fields fail with the field's name.
template <class T>
decoded<T> decode(std::string_view text);

void to_json(nlohmann::json& j, const error_info& v);
void from_json(const nlohmann::json& j, error_info& v);
void to_json(nlohmann::json& j, const register_request& v);
void from_json(const nlohmann::json& j, register_request& v);
void to_json(nlohmann::json& j, const task_replica& v);
void from_json(const nlohmann::json& j, task_replica& v);
void to_json(nlohmann::json& j, const replica_receipt& v);
void from_json(const nlohmann::json& j, replica_receipt& v);
void to_json(nlohmann::json& j, const task_info& v);
void from_json(const nlohmann::json& j, task_info& v);
void to_json(nlohmann::json& j, const piece_result& v);
void from_json(const nlohmann::json& j, piece_result& v);
void to_json(nlohmann::json& j, const sync_request& v);
void from_json(const nlohmann::json& j, sync_request& v);
void to_json(nlohmann::json& j, const assignment& v);
void from_json(const nlohmann::json& j, assignment& v);
void to_json(nlohmann::json& j, const sync_response& v);
void from_json(const nlohmann::json& j, sync_response& v);
void to_json(nlohmann::json& j, const heartbeat_request& v);
void from_json(const nlohmann::json& j, heartbeat_request& v);
void to_json(nlohmann::json& j, const heartbeat_response& v);
void from_json(const nlohmann::json& j, heartbeat_response& v);
void to_json(nlohmann::json& j, const local_request& v);
void from_json(const nlohmann::json& j, local_request& v);
void to_json(nlohmann::json& j, const local_event& v);
void to_json(nlohmann::json& j, const cache_entry& v);
void from_json(const nlohmann::json& j, cache_entry& v);
void from_json(const nlohmann::json& j, local_event& v);
void to_json(nlohmann::json& j, const error_response& v);
void to_json(nlohmann::json& j, const job_request& v);
void to_json(nlohmann::json& j, const job_report& v);
void from_json(const nlohmann::json& j, job_report& v);
void to_json(nlohmann::json& j, const job_order& v);
void from_json(const nlohmann::json& j, job_order& v);
void from_json(const nlohmann::json& j, job_request& v);
void to_json(nlohmann::json& j, const job_target& v);
void from_json(const nlohmann::json& j, job_target& v);
void to_json(nlohmann::json& j, const job_status& v);
void from_json(const nlohmann::json& j, job_status& v);
void to_json(nlohmann::json& j, const job_list& v);
void from_json(const nlohmann::json& j, job_list& v);
void from_json(const nlohmann::json& j, error_response& v);

}  // namespace damselfly::proto
