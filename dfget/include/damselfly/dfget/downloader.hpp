// SPDX-License-Identifier: Apache-2.0
// The download engine: register with a supernode, fetch assigned pieces in parallel, verify, store.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "damselfly/common/digest.hpp"
#include "damselfly/common/error.hpp"
#include "damselfly/common/http_message.hpp"
#include "damselfly/common/metrics.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/task_id.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/dfget_storage/piece_store.hpp"

namespace boost::asio {
class thread_pool;
}

namespace damselfly::dfget {

/// What to download.
struct download_request {
  /// The task; its digest field is ignored in favour of `digest` below.
  task_identity identity;
  std::optional<digest_spec> digest;           ///< checked on the whole content
  std::map<std::string, std::string> headers;  ///< passed on to the origin
  /// Pieces the store already holds, verified (a resumed download).
  std::vector<bool> have;
  /// The source version those pieces belong to; a supernode announcing another
  /// version ends the download with errc::source_changed (start over).
  std::string version;
  std::uint64_t piece_size = 0;  ///< the layout of `have`; another layout voids it too
  /// How an https origin is trusted when fetching back-to-source; empty: the
  /// system CA store, verified.
  std::shared_ptr<const tls_context> origin_tls;
  /// When set, a supernode that names the task otherwise is refused: the
  /// caller serves the pieces under this id, and a supernode that treats
  /// the request as private (another credential header list) must not have
  /// them served under the public one.
  std::string expect_task_id;
  /// This peer's key for the task from an earlier registration (a daemon
  /// keeps it with the task): a peer id still registered is taken again only
  /// with its key.
  std::string peer_key;
};

/// Live counters a host process may hand to the engine (any may be null).
struct download_counters {
  metric_value* from_supernode = nullptr;  ///< bytes
  metric_value* from_peers = nullptr;      ///< bytes
  metric_value* from_origin = nullptr;     ///< bytes fetched back-to-source
  metric_value* failed_bad_digest = nullptr;
  metric_value* failed_unreachable = nullptr;
  metric_value* failed_other = nullptr;
  /// Request to verified piece, by the kind of source that served it.
  histogram* fetch_seconds_supernode = nullptr;
  histogram* fetch_seconds_peer = nullptr;
};

/// How a peer describes itself to the supernode when it registers.
struct peer_profile {
  std::string peer_id;  ///< empty: the engine generates one
  /// Where this peer serves pieces to others ("host:port"); empty: it serves none.
  std::string upload_addr;
  std::string idc;
  std::string location;
  unsigned upload_slots = 0;  ///< 0: the supernode's default
};

struct downloader_options {
  std::vector<host_port> supernodes;  ///< tried in order for registration
  unsigned parallel = 8;              ///< pieces in flight
  /// Piece bytes held in memory at once: with large pieces fewer are in
  /// flight (never fewer than 2), so memory does not grow with the piece size.
  std::uint64_t buffer_budget = 32u << 20;
  unsigned max_piece_attempts = 5;  ///< per piece, before the download fails
  std::chrono::milliseconds io_timeout{30'000};
  /// Longest wait for a connection to a supernode, peer or origin: a
  /// supernode that does not answer costs this much before the fallback.
  std::chrono::milliseconds connect_timeout{5'000};
  /// Told once, with the reason, when the download goes to the origin
  /// because no supernode answered (not when none was configured).
  std::function<void(const std::string&)> on_fallback;
  /// The download fails when no piece arrives for this long.
  std::chrono::milliseconds stall_timeout{120'000};
  /// Whole-download limit; zero means none.
  std::chrono::milliseconds total_timeout{0};
  peer_profile peer;
  /// Download rate cap in bytes/s for this download; 0 is unlimited.
  std::uint64_t download_rate = 0;
  /// A cap shared by every download of the process (the daemon's total limit);
  /// taken on the downloader's executor only. Null: none.
  std::shared_ptr<rate_limiter> total_limit;
  /// How long the supernode may be unreachable (restarting) before the download fails.
  std::chrono::milliseconds supernode_outage{60'000};
  download_counters counters;
  /// Leave the task at the supernode when done (a daemon stays, to serve it).
  bool leave_when_done = true;
  /// With no supernode configured or none answering, fetch straight from the
  /// origin (parallel Range requests, or one stream). Off: that is an error.
  bool back_to_source = true;
  /// The cluster token, sent to supernodes and peers (never to origins); empty: none.
  std::string cluster_token;
  /// TLS to supernodes and peers (verified as the context says); null: plain HTTP.
  std::shared_ptr<const tls_context> cluster_tls;
  /// Threads that verify and write pieces while the I/O thread keeps receiving.
  unsigned worker_threads = 2;
  /// Speak the parent-set protocol when the supernode schedules the task so:
  /// pick pieces among the parents it gives (their have streams), and ask it
  /// only for pieces none of them holds.
  bool parent_sets = true;
  /// Told, before on_piece, of a piece that came with the supernode's
  /// signature of its digest (the value of signed_digest_header): a daemon
  /// passes it on when it serves the piece. Null: not kept.
  std::function<void(std::uint64_t piece, const std::string& signed_digest)> piece_signed;
  /// Told, with parent sets, how to ask what each parent said it holds
  /// (by its upload address), and told null when the download ends: a
  /// daemon's have streams leave those pieces out. Null: not told.
  std::function<void(std::function<bool(std::string_view addr, std::uint64_t piece)>)> parents_hold;
};

struct download_progress {
  std::uint64_t bytes_done = 0;
  std::int64_t total_bytes = -1;  ///< -1 while unknown
  std::uint64_t pieces_done = 0;
  std::int64_t piece_count = -1;
  std::uint64_t piece_size = 0;
  std::string task_id;
  std::string version;
  std::string peer_key;    ///< this peer's key for the task, once registered
  std::string ticket_key;  ///< the supernode's key for checking this task's tickets
};

struct download_summary {
  std::string task_id;
  std::uint64_t bytes = 0;
  std::uint64_t pieces = 0;
  std::uint64_t from_supernode = 0;  ///< bytes
  std::uint64_t from_peers = 0;      ///< bytes
  std::uint64_t from_origin = 0;     ///< bytes, back-to-source
  bool fell_back = false;            ///< supernodes were configured and none answered
  unsigned failovers = 0;            ///< times the download moved to the task's next supernode
  std::uint64_t resumed_bytes = 0;   ///< verified bytes already on disk, not fetched again
  std::uint64_t failed_pieces = 0;   ///< attempts that failed and were retried
  std::chrono::milliseconds elapsed{0};
  std::int64_t content_length = -1;
  std::uint64_t piece_size = 0;
  std::string version;
  std::string last_modified;  ///< the origin's Last-Modified, as it or the supernode said
};

/// Success (ec empty) with a summary, or a failure with one line for the user.
struct download_outcome {
  error_code ec;
  std::string message;
  download_summary summary;
};

/// Runs downloads on a single-threaded executor; one run() per object at a time.
class downloader {
 public:
  downloader(boost::asio::any_io_executor ex, downloader_options opts);
  ~downloader();
  downloader(const downloader&) = delete;
  downloader& operator=(const downloader&) = delete;

  /// Downloads `req` into `store`. The store holds the complete, piece-verified
  /// (and, with a digest, whole-verified) content when the outcome is success.
  /// `on_piece` is told of each piece verified and written (on the I/O thread).
  ///
  /// Everything is taken by reference and must outlive the download. (Pass
  /// named objects: GCC 12 can destroy temporaries made in a co_await twice.)
  boost::asio::awaitable<download_outcome> run(
      const download_request& req, piece_store& store,
      const std::function<void(const download_progress&)>& on_progress,
      const std::function<void(std::uint64_t piece)>& on_piece);

 private:
  struct session;
  boost::asio::any_io_executor ex_;
  downloader_options opts_;
  std::unique_ptr<boost::asio::thread_pool> workers_;
};

}  // namespace damselfly::dfget
