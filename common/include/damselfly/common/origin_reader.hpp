// SPDX-License-Identifier: Apache-2.0
// Back-to-source: reads a whole file from its origin once, piece by piece, hashing as it goes.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <utility>

#include "damselfly/common/error.hpp"
#include "damselfly/common/http_client.hpp"
#include "damselfly/common/piece_math.hpp"
#include "damselfly/common/url.hpp"

namespace damselfly {

/// What the probe told about the file.
struct origin_layout {
  std::int64_t length = -1;  ///< -1 while unknown (a body without Content-Length)
  std::uint64_t piece_size = 0;
  bool ranged = false;  ///< the origin honours Range: pieces come by parallel requests
  std::string etag;
  std::string last_modified;
};

/// Where an origin_reader delivers; every callback runs on the reader's
/// executor, except on_data with origin_reader_options::io_pool set.
struct origin_sink {
  /// The probe's answer. An error aborts the fetch.
  std::function<error_code(const origin_layout&)> on_layout;
  /// Bytes at `offset` of the file (in order within a piece). With an
  /// io_pool and a ranged origin it runs there, for several pieces at once:
  /// it must touch nothing but what is safe from any thread (a pwrite).
  std::function<error_code(std::uint64_t offset, std::span<const std::byte> data)> on_data;
  /// Piece `index` is complete; its SHA-256 in lowercase hex.
  std::function<void(std::uint64_t index, std::string sha256)> on_piece;
  /// Body bytes received from the origin (metrics).
  std::function<void(std::uint64_t bytes)> on_bytes;
  /// Polled as data arrives: true abandons the fetch with errc::cancelled.
  std::function<bool()> cancelled;
  /// Rate caps: asked before each Range request with its length (and, from
  /// a single-stream origin, after each read), answers how long to wait first
  /// (null: no cap; set, every Range request is of one piece).
  std::function<std::chrono::nanoseconds(std::uint64_t bytes)> pace;
  /// Pieces the sink holds already (a resumed download): with a ranged
  /// origin they are not fetched. Null: every piece is fetched.
  std::function<bool(std::uint64_t index)> skip;
};

struct origin_reader_options {
  /// For an https URL, `client.tls` says how the origin is trusted; left
  /// empty, the system CA store verifies it. Ignored for http URLs.
  http_client_options client;
  piece_sizing sizing;
  unsigned concurrency = 4;  ///< parallel Range requests
  unsigned retries = 3;      ///< attempts per piece
  /// A Range request asks for a run of consecutive pieces, a share of what
  /// is left and at most this many bytes (at least one piece): asked one
  /// piece at a time, every piece waited a round trip, which starved the
  /// link to a distant origin. Each piece of a run is hashed and handed to
  /// on_piece as its last byte arrives. With a pace, runs are single pieces.
  std::uint64_t max_request_bytes = 8 << 20;
  /// Where the connections of a ranged fetch run: each piece is received,
  /// hashed and handed to on_data there, on one thread, and the reader's
  /// executor hears of whole pieces (on_bytes then comes once per attempt,
  /// and a cancellation is seen between pieces). Empty: the reader's executor.
  boost::asio::any_io_executor io_pool;
  /// Set from any thread, ends the transfers on the io_pool at their next
  /// chunk (a cancellation of the reader's coroutine cannot reach them).
  const std::atomic<bool>* abort = nullptr;
  /// Shown every answer to a probe, redirects included, with the URL asked
  /// (wget's -S). Null: nobody is told.
  std::function<void(const http_url& url, const response_head& head)> on_response;
};

/// The outcome: the final layout (length known) or why it failed.
struct origin_result {
  error_code ec;
  int http_status = 0;  ///< the origin's status when that is the cause
  std::string detail;   ///< e.g. which piece
  origin_layout layout;
};

/// A failure as an operator reads it: a stable code ("origin_http_error",
/// "origin_unreachable", "origin_timeout", "origin_protocol", "source_changed")
/// and one line naming the origin.
struct origin_failure_text {
  std::string code;
  std::string message;
};
origin_failure_text describe_origin_failure(const http_url& url, const origin_result& r);

/// Probes with "Range: bytes=0-0", following redirects (301, 302, 303, 307,
/// 308; at most 20, never from https to http, and without the credential
/// headers Authorization, Proxy-Authorization and Cookie once the host
/// changes; each new address passes the same vetting). A 206 means Range support: pieces are then
/// fetched by `concurrency` parallel Range requests of runs of pieces, lowest first, each checked
/// against the probe's ETag/Last-Modified/length (a change is source_changed,
/// never mixed content). A 200 answer is consumed as the one stream it is.
class origin_reader {
 public:
  origin_reader(boost::asio::any_io_executor ex, http_url url,
                std::map<std::string, std::string> headers, origin_reader_options opts);

  /// Reads the whole file into `sink`. `sink` must outlive the call.
  boost::asio::awaitable<origin_result> fetch(const origin_sink& sink);
  /// Only the probe: the layout and validators as the origin states them now
  /// (for re-checking a cached copy); a body beyond the probe byte is not read.
  /// `on_bytes` is told of body bytes received; it must outlive the call.
  boost::asio::awaitable<origin_result> probe(const std::function<void(std::uint64_t)>& on_bytes);
  /// The URL fetched: the one given, or where its redirects led.
  const http_url& url() const noexcept { return url_; }
  /// Redirects followed so far.
  unsigned redirects() const noexcept { return redirects_; }

 private:
  struct range_state;
  /// The next run of pieces to ask for: {first, count}, count 0 when none is left.
  std::pair<std::uint64_t, std::uint64_t> claim_run(const origin_sink& sink, range_state& st) const;
  boost::asio::awaitable<void> range_worker(const origin_sink& sink, range_state& st);
  http_request request() const;
  /// An https URL without a usable TLS context: fills `out` with why.
  bool no_tls(origin_result& out) const;
  /// Reads the probe's answer into `layout`; the origin's status on an HTTP
  /// error. A redirect is noted in `location_` and ends the exchange.
  error_code parse_probe(const response_head& h, origin_layout& layout, int& http_status);
  /// Moves to `location_`: the next URL, if the redirect may be followed.
  error_code follow_redirect(std::string& why);
  /// Connection settings for the current URL (TLS for https only).
  http_client_options client_options() const;

  boost::asio::any_io_executor ex_;
  http_url url_;
  std::map<std::string, std::string> headers_;
  origin_reader_options opts_;
  std::string tls_failure_;                 ///< why no default TLS context could be made
  std::shared_ptr<const tls_context> tls_;  ///< for https URLs (given, or the system store)
  std::string location_;                    ///< the last answer's redirect target, if any
  unsigned redirects_ = 0;
};

}  // namespace damselfly
