// SPDX-License-Identifier: Apache-2.0
// The download engine against a scripted supernode: retries, verification, failure verdicts.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_set>

#include "damselfly/common/digest.hpp"
#include "damselfly/common/http_range.hpp"
#include "damselfly/common/http_server.hpp"
#include "damselfly/common/piece_math.hpp"
#include "damselfly/dfget/downloader.hpp"
#include "damselfly/dfget/origin_probe.hpp"
#include "damselfly/proto/messages.hpp"

using namespace damselfly;
namespace asio = boost::asio;

namespace {

/// Pieces kept in memory (the engine writes from worker threads).
class memory_store final : public dfget::piece_store {
 public:
  error_code write(std::uint64_t offset, std::span<const std::byte> data) override {
    std::lock_guard lock(mu_);
    writers_.insert(std::this_thread::get_id());
    if (bytes_.size() < offset + data.size()) bytes_.resize(offset + data.size());
    std::memcpy(bytes_.data() + offset, data.data(), data.size());
    return {};
  }
  error_code read(std::uint64_t offset, std::span<std::byte> out) override {
    std::lock_guard lock(mu_);
    if (offset + out.size() > bytes_.size()) return errc::io_error;
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return {};
  }
  error_code sync() override { return {}; }
  /// A disk of `capacity` bytes.
  error_code reserve(std::uint64_t length) override {
    return length > capacity ? error_code(ENOSPC, boost::system::system_category()) : error_code();
  }
  std::string contents() {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  /// The threads that wrote pieces.
  std::unordered_set<std::thread::id> writers() {
    std::lock_guard lock(mu_);
    return writers_;
  }

 private:
  std::mutex mu_;
  std::string bytes_;
  std::unordered_set<std::thread::id> writers_;

 public:
  std::uint64_t capacity = std::uint64_t{1} << 40;
};

/// Speaks the supernode's v1 protocol for one task, serving pieces itself,
/// corrupting the pieces it is told to.
struct scripted_supernode {
  std::string content;
  std::uint64_t piece_size = 4096;
  std::map<std::uint64_t, int> corrupt;  ///< piece -> times to serve it corrupted (-1: always)
  std::size_t corrupt_at = 0;            ///< which byte of a piece is corrupted
  int good_before_corrupt = 0;           ///< servings of a `corrupt` piece left intact first
  std::string fail_with;                 ///< non-empty: the task is reported failed with this code
  std::vector<proto::piece_result> results;
  std::set<std::uint64_t> held, in_flight;
  std::vector<std::uint64_t> served;  ///< pieces whose bytes were sent
  std::size_t max_in_flight = 0;      ///< most assignments outstanding at once
  const std::string task_id = std::string(64, 'a');
  /// A lying supernode: rewrites its answers before they are sent.
  std::function<void(proto::task_info&)> lie_in_registration;
  std::function<void(proto::sync_response&)> lie_in_sync;
  /// Answers a peer that asks in the compact form, as the supernode does;
  /// its first `nothing_new` syncs get a 204 (nothing assigned).
  bool speaks_compact = false;
  int nothing_new = 0;
  int no_content_sent = 0;
  int full_form_asked = 0;  ///< syncs that did not ask for the compact form
  /// Checks the digests a peer that asks so reports, as the supernode does,
  /// and then assigns without digests.
  bool checks_digests = false;
  int digestless_sent = 0;                      ///< assignments sent without a digest
  std::vector<std::uint64_t> rejected;          ///< every piece rejected, in order
  std::vector<std::uint64_t> announced_unheld;  ///< on_piece before this supernode held it
  std::size_t max_per_sync = 0;  ///< assignments per answer at most (0: as many as asked)
  /// Syncs that reported nothing while an assignment was still out: asking
  /// again before anything changed.
  int syncs_without_news = 0;

  std::uint64_t count() const { return piece_count(content.size(), piece_size); }
  proto::task_info info() const {
    proto::task_info i;
    i.task_id = task_id;
    i.state = fail_with.empty() ? proto::task_state::done : proto::task_state::failed;
    if (!fail_with.empty()) i.error = proto::error_info{fail_with, "origin answered 404", "", 404};
    i.content_length = static_cast<std::int64_t>(content.size());
    i.piece_size = piece_size;
    i.piece_count = static_cast<std::int64_t>(count());
    i.version = "v";
    return i;
  }
  asio::awaitable<http_response> handle(http_request& req) {
    std::string path(req.path());
    if (path == "/api/v1/tasks") {
      auto i = info();
      if (lie_in_registration) lie_in_registration(i);
      co_return http_response::json(200, proto::encode(i));
    }
    if (req.method == "DELETE") co_return http_response{204, {}, {}, {}, {}};
    if (path.find("/sync") != std::string::npos) {
      auto s = proto::decode<proto::sync_request>(req.body);
      proto::sync_response out;
      out.task = info();
      const bool checking = checks_digests && s.value->report_digests;
      if (s.value->results.empty() && !in_flight.empty()) ++syncs_without_news;
      for (const auto& r : s.value->results) {
        results.push_back(r);
        in_flight.erase(r.piece);
        if (r.status != proto::piece_status::ok) continue;
        auto range = piece_at(r.piece, content.size(), piece_size);
        if (checking && !held.count(r.piece) &&
            r.sha256 != sha256_hex(std::string_view(content).substr(range.offset, range.length))) {
          out.rejected.push_back(r.piece);
          rejected.push_back(r.piece);
          continue;
        }
        held.insert(r.piece);
      }
      if (!s.value->compact) ++full_form_asked;
      if (speaks_compact && s.value->compact && nothing_new > 0) {
        --nothing_new;
        ++no_content_sent;
        co_return http_response{204, {}, {}, {}, {}};
      }
      std::size_t most = s.value->want;
      if (max_per_sync > 0) most = std::min(most, max_per_sync);
      for (std::uint64_t i = 0; i < count() && out.assignments.size() < most; ++i) {
        if (held.count(i) || in_flight.count(i)) continue;
        in_flight.insert(i);
        max_in_flight = std::max(max_in_flight, in_flight.size());
        auto r = piece_at(i, content.size(), piece_size);
        out.assignments.push_back({i, r.offset, r.length,
                                   sha256_hex(std::string_view(content).substr(r.offset, r.length)),
                                   "supernode"});
        if (checking && s.value->compact) {
          out.assignments.back().sha256.clear();
          ++digestless_sent;
        }
      }
      out.compact = speaks_compact && s.value->compact;
      if (lie_in_sync) lie_in_sync(out);
      co_return http_response::json(200, proto::encode(out));
    }
    auto range = parse_range_header(*req.headers.get("Range"), content.size());
    std::string body = content.substr(range->offset, range->length);
    auto piece = range->offset / piece_size;
    served.push_back(piece);
    bool spared = false;
    if (corrupt.count(piece) && good_before_corrupt > 0) {
      --good_before_corrupt;
      spared = true;
    }
    if (auto it = corrupt.find(piece); !spared && it != corrupt.end() && it->second != 0) {
      if (it->second > 0) --it->second;
      body[corrupt_at] = static_cast<char>(body[corrupt_at] ^ 0x55);
    }
    http_response r;
    r.status = 206;
    r.body = std::move(body);
    co_return r;
  }
};

struct engine_run {
  dfget::download_outcome outcome;
  std::string written;
  std::unordered_set<std::thread::id> writers;  ///< the threads that wrote the pieces
};

engine_run run_engine(scripted_supernode& sn, std::optional<digest_spec> digest = std::nullopt,
                      const std::function<void(dfget::download_request&)>& resume = {},
                      std::uint64_t buffer_budget = 32u << 20) {
  asio::io_context io;
  http_server server(io.get_executor(), [&](http_request& r) { return sn.handle(r); });
  auto port = server.listen("127.0.0.1", 0);
  EXPECT_TRUE(port);
  server.start();
  dfget::downloader_options opts;
  opts.supernodes = {host_port{"127.0.0.1", *port}};
  opts.parallel = 3;
  opts.buffer_budget = buffer_budget;
  dfget::downloader engine(io.get_executor(), opts);
  dfget::download_request req;
  req.identity.url = "http://origin.invalid/file";
  req.digest = digest;
  memory_store store;
  if (resume) {
    // What a previous run left: the pieces in `have`, written and verified.
    resume(req);
    for (std::uint64_t i = 0; i < req.have.size(); ++i) {
      if (!req.have[i]) continue;
      auto r = piece_at(i, sn.content.size(), sn.piece_size);
      EXPECT_FALSE(
          store.write(r.offset, std::as_bytes(std::span(sn.content.data() + r.offset, r.length))));
    }
  }
  const std::function<void(const dfget::download_progress&)> no_progress;
  const std::function<void(std::uint64_t)> on_piece = [&sn](std::uint64_t p) {
    if (!sn.held.count(p)) sn.announced_unheld.push_back(p);
  };
  auto fut = asio::co_spawn(io, engine.run(req, store, no_progress, on_piece), asio::use_future);
  while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
  server.stop();
  return {fut.get(), store.contents(), store.writers()};
}

std::string make_content(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131) ^ (i >> 7));
  return s;
}

}  // namespace

TEST(Downloader, FetchesEveryPieceAndWritesItInPlace) {
  scripted_supernode sn;
  sn.content = make_content(10 * 4096 + 17);
  auto r = run_engine(sn);
  ASSERT_FALSE(r.outcome.ec) << r.outcome.message;
  EXPECT_EQ(r.written, sn.content);
  EXPECT_EQ(r.outcome.summary.pieces, 11u);
  EXPECT_EQ(r.outcome.summary.bytes, sn.content.size());
  EXPECT_EQ(r.outcome.summary.from_supernode, sn.content.size());
  EXPECT_EQ(sn.held.size(), 11u);  // every piece was reported back
  // Hashed and written on the engine's workers: the thread that runs the
  // sockets (this one) never waits for SHA-256 or the disk.
  ASSERT_FALSE(r.writers.empty());
  EXPECT_EQ(r.writers.count(std::this_thread::get_id()), 0u);
}

TEST(Downloader, CorruptPieceIsReportedAndFetchedAgain) {
  scripted_supernode sn;
  sn.content = make_content(6 * 4096);
  sn.corrupt[2] = 2;  // piece 2 arrives corrupted twice, then intact
  auto r = run_engine(sn);
  ASSERT_FALSE(r.outcome.ec) << r.outcome.message;
  EXPECT_EQ(r.written, sn.content);
  EXPECT_EQ(r.outcome.summary.failed_pieces, 2u);
  int bad = 0;
  for (const auto& res : sn.results)
    bad += res.piece == 2 && res.status == proto::piece_status::bad_digest;
  EXPECT_EQ(bad, 2);
}

TEST(Downloader, LargePiecesAreHashedAsTheyLandAndABadByteAnywhereIsCaught) {
  // Pieces over the hash slice are hashed a slice at a time while the rest
  // arrives; a byte flipped early, in the middle or last must still fail.
  for (std::size_t at : {std::size_t{0}, std::size_t{1300} << 10, (std::size_t{2} << 20) + 999}) {
    SCOPED_TRACE("byte " + std::to_string(at));
    scripted_supernode sn;
    sn.piece_size = (2u << 20) + 1000;
    sn.content = make_content(3 * sn.piece_size + 12345);
    sn.corrupt[1] = 1;
    sn.corrupt_at = at;
    auto r = run_engine(sn);
    ASSERT_FALSE(r.outcome.ec) << r.outcome.message;
    EXPECT_TRUE(r.written == sn.content);
    EXPECT_EQ(r.outcome.summary.failed_pieces, 1u);
    EXPECT_EQ(r.outcome.summary.pieces, 4u);
  }
}

TEST(Downloader, PieceThatNeverVerifiesFailsTheDownload) {
  scripted_supernode sn;
  sn.content = make_content(4 * 4096);
  sn.corrupt[1] = -1;
  auto r = run_engine(sn);
  EXPECT_EQ(r.outcome.ec, errc::too_many_failures);
  EXPECT_NE(r.outcome.message.find("piece 1"), std::string::npos) << r.outcome.message;
}

TEST(Downloader, FailedTaskIsTheVerdict) {
  scripted_supernode sn;
  sn.content = make_content(4096);
  sn.fail_with = "origin_http_error";
  auto r = run_engine(sn);
  EXPECT_EQ(r.outcome.ec, errc::origin_http_error);
  EXPECT_NE(r.outcome.message.find("404"), std::string::npos);
}

TEST(Downloader, WholeFileDigestIsChecked) {
  scripted_supernode sn;
  sn.content = make_content(3 * 4096 + 5);
  digest md5(digest_algo::md5);
  md5.update(std::string_view(sn.content));
  auto good = run_engine(sn, digest_spec{digest_algo::md5, md5.finish()});
  EXPECT_FALSE(good.outcome.ec) << good.outcome.message;
  sn.held.clear();
  auto bad = run_engine(sn, digest_spec{digest_algo::sha256, std::string(64, '0')});
  EXPECT_EQ(bad.outcome.ec, errc::digest_mismatch);
}

TEST(Downloader, UnreachableSupernodeIsReported) {
  asio::io_context io;
  dfget::downloader_options opts;
  opts.supernodes = {host_port{"127.0.0.1", 1}};
  opts.back_to_source = false;  // otherwise it would go to the (unresolvable) origin
  dfget::downloader engine(io.get_executor(), opts);
  memory_store store;
  dfget::download_request req;
  req.identity.url = "http://origin.invalid/file";
  const std::function<void(const dfget::download_progress&)> no_progress;
  const std::function<void(std::uint64_t)> no_piece;
  auto fut = asio::co_spawn(io, engine.run(req, store, no_progress, no_piece), asio::use_future);
  io.run();
  auto outcome = fut.get();
  EXPECT_EQ(outcome.ec, errc::supernode_unreachable);
  EXPECT_NE(outcome.message.find("127.0.0.1:1"), std::string::npos);
}

TEST(Downloader, ResumedPiecesOfTheSameVersionAreNotFetchedAgain) {
  scripted_supernode sn;
  sn.content = make_content(5 * 4096 + 9);
  auto r = run_engine(sn, std::nullopt, [](dfget::download_request& req) {
    req.have = {true, false, true};
    req.version = "v";
    req.piece_size = 4096;
  });
  ASSERT_FALSE(r.outcome.ec) << r.outcome.message;
  EXPECT_EQ(r.written, sn.content);
  EXPECT_EQ(r.outcome.summary.resumed_bytes, 2u * 4096);
  EXPECT_EQ(r.outcome.summary.bytes, sn.content.size() - 2 * 4096);
  for (auto piece : sn.served) EXPECT_TRUE(piece != 0 && piece != 2) << piece;
  EXPECT_EQ(sn.served.size(), 4u);
}

TEST(Downloader, ResumedPiecesOfAnotherVersionOrLayoutEndInSourceChanged) {
  scripted_supernode sn;
  sn.content = make_content(3 * 4096);
  auto old_version = run_engine(sn, std::nullopt, [](dfget::download_request& req) {
    req.have = {true};
    req.version = "older";
    req.piece_size = 4096;
  });
  EXPECT_EQ(old_version.outcome.ec, errc::source_changed);
  auto old_layout = run_engine(sn, std::nullopt, [](dfget::download_request& req) {
    req.have = {true};
    req.version = "v";
    req.piece_size = 8192;
  });
  EXPECT_EQ(old_layout.outcome.ec, errc::source_changed);
  EXPECT_TRUE(sn.served.empty());  // nothing was fetched on a stale basis
}

TEST(Downloader, PiecesWithNoVersionToCheckAreFetchedAgain) {
  scripted_supernode sn;
  sn.content = make_content(3 * 4096);
  auto r = run_engine(sn, std::nullopt, [](dfget::download_request& req) {
    req.have = {true, true};  // e.g. fetched back-to-source, where no version is known
  });
  ASSERT_FALSE(r.outcome.ec) << r.outcome.message;
  EXPECT_EQ(r.outcome.summary.bytes, sn.content.size());
  EXPECT_EQ(r.outcome.summary.resumed_bytes, 0u);
  EXPECT_EQ(r.written, sn.content);
}

TEST(Downloader, LargePiecesMeanFewerInFlightWithinTheBufferBudget) {
  scripted_supernode sn;
  sn.content = make_content(12 * 4096);
  auto roomy = run_engine(sn);
  ASSERT_FALSE(roomy.outcome.ec) << roomy.outcome.message;
  EXPECT_EQ(sn.max_in_flight, 3u);  // --parallel
  scripted_supernode tight;
  tight.content = sn.content;
  auto r = run_engine(tight, std::nullopt, {}, 2 * 4096);  // room for two pieces
  ASSERT_FALSE(r.outcome.ec) << r.outcome.message;
  EXPECT_EQ(r.written, tight.content);
  EXPECT_EQ(tight.max_in_flight, 2u);
}

TEST(downloader, CompactAnswersAndNothingNewAnswersGetTheFileWhole) {
  // The engine asks for compact answers; a 204 (nothing new) leaves it
  // asking again, not failing, and the pieces' ranges come from the layout.
  scripted_supernode sn;
  sn.content = make_content(5 * 4096 + 100);
  sn.speaks_compact = true;
  sn.nothing_new = 2;
  auto r = run_engine(sn);
  ASSERT_FALSE(r.outcome.ec) << r.outcome.message;
  EXPECT_EQ(r.written, sn.content);
  EXPECT_EQ(sn.no_content_sent, 2);
  EXPECT_EQ(sn.full_form_asked, 0) << "every sync asks for the compact form";
}

TEST(downloader, APieceAssignedWithoutADigestIsHeldOnlyOnceTheSupernodeAcceptsWhatArrived) {
  // Digests stay off the supernode's link: the engine reports the SHA-256 of
  // what it fetched, and a piece counts (on_piece, progress, the file) only
  // after the answer to that report did not reject it.
  scripted_supernode sn;
  sn.content = make_content(6 * 4096 + 300);
  sn.speaks_compact = true;
  sn.checks_digests = true;
  sn.corrupt = {{1, 1}, {4, 2}};  // piece 1 arrives bad once, piece 4 twice
  sn.corrupt_at = 4095;
  auto r = run_engine(sn);
  ASSERT_FALSE(r.outcome.ec) << r.outcome.message;
  EXPECT_EQ(r.written, sn.content) << "a rejected piece was not fetched again over its bad bytes";
  EXPECT_EQ(sn.rejected, (std::vector<std::uint64_t>{1, 4, 4}));
  EXPECT_EQ(r.outcome.summary.failed_pieces, 3u);
  EXPECT_EQ(r.outcome.summary.pieces, 7u);
  EXPECT_GE(sn.digestless_sent, 10);
  EXPECT_TRUE(sn.announced_unheld.empty())
      << "piece " << sn.announced_unheld.front() << " was announced before it was accepted";
  for (const auto& res : sn.results) {
    if (res.status == proto::piece_status::ok) {
      EXPECT_EQ(res.sha256.size(), 64u) << "piece " << res.piece << " reported without its digest";
    }
  }
}

TEST(downloader, AnAnswerShortOfWhatWasAskedIsFollowedByTheNextFinishedPieceNotAnotherAsk) {
  // A supernode that gives one assignment a sync has nothing more for now:
  // asking again before a piece finishes only brings back an empty answer.
  scripted_supernode sn;
  sn.content = make_content(6 * 4096);
  sn.max_per_sync = 1;
  auto r = run_engine(sn);
  ASSERT_FALSE(r.outcome.ec) << r.outcome.message;
  EXPECT_EQ(r.written, sn.content);
  EXPECT_EQ(sn.syncs_without_news, 0);
}

TEST(downloader, TwoCopiesOfOnePieceOneBadNeverLeaveTheBadOneInTheFile) {
  // An endgame duplicate: piece 2 is assigned twice in one answer, and one
  // of the two copies served is corrupt (the first, or the second). Whichever
  // lands first is the one written — a bad second copy written over a good
  // first one would be in the file with nobody the wiser — and the other is
  // reported only once the first's verdict is in. The file ends whole, and
  // nothing is announced before it is accepted.
  for (int run = 0; run < 20; ++run) {
    scripted_supernode sn;
    sn.content = make_content(4 * 4096);
    sn.speaks_compact = true;
    sn.checks_digests = true;
    sn.corrupt = {{2, 1}};
    sn.good_before_corrupt = run % 2;
    bool doubled = false;
    sn.lie_in_sync = [&doubled](proto::sync_response& out) {
      for (const auto& a : out.assignments) {
        if (a.piece != 2 || doubled) continue;
        doubled = true;
        out.assignments.push_back(a);
        break;
      }
    };
    auto r = run_engine(sn);
    ASSERT_FALSE(r.outcome.ec) << r.outcome.message;
    ASSERT_TRUE(doubled);
    EXPECT_EQ(r.written, sn.content) << "run " << run;
    EXPECT_TRUE(sn.announced_unheld.empty()) << "run " << run;
    // Both copies were reported: the good one ok, the bad one rejected (it
    // was written first) or reported after the good one was held.
    int reports_of_two = 0;
    for (const auto& res : sn.results) reports_of_two += res.piece == 2 ? 1 : 0;
    EXPECT_GE(reports_of_two, 2) << "run " << run;
  }
}

// Attacks by a lying supernode: the engine checks every number before use.

TEST(downloader_attacks, ASourceSendingOnePieceBadEveryTimeEndsInAFailureNotAFile) {
  scripted_supernode sn;
  sn.content = make_content(3 * 4096);
  sn.speaks_compact = true;
  sn.checks_digests = true;
  sn.corrupt = {{2, -1}};
  auto r = run_engine(sn);
  EXPECT_EQ(r.outcome.ec, errc::too_many_failures) << r.outcome.message;
  EXPECT_EQ(sn.rejected, std::vector<std::uint64_t>(5, 2));
  EXPECT_TRUE(sn.announced_unheld.empty());
}

TEST(downloader_attacks, AssignmentOfPieceTwoToTheSixtyFourMinusOneFailsCleanly) {
  scripted_supernode sn;
  sn.content = std::string(3 * 4096, 'x');
  sn.lie_in_sync = [](proto::sync_response& out) {
    for (auto& a : out.assignments) a.piece = UINT64_MAX;  // digest still matches the bytes
  };
  auto r = run_engine(sn);
  EXPECT_EQ(r.outcome.ec, errc::protocol_error);
  EXPECT_NE(r.outcome.message.find("piece 18446744073709551615"), std::string::npos)
      << r.outcome.message;
}

TEST(downloader_attacks, ACompactAnswerNamingAPiecePastTheEndIsRefusedBeforeAnyFetch) {
  scripted_supernode sn;
  sn.content = std::string(3 * 4096, 'x');
  sn.speaks_compact = true;
  sn.lie_in_sync = [](proto::sync_response& out) {
    for (auto& a : out.assignments) a.piece = 3;  // the file has pieces 0-2
  };
  auto r = run_engine(sn);
  EXPECT_EQ(r.outcome.ec, errc::protocol_error);
  EXPECT_NE(r.outcome.message.find("beyond the file's end"), std::string::npos)
      << r.outcome.message;
  EXPECT_TRUE(sn.served.empty()) << "a piece was fetched for an assignment past the end";
}

TEST(downloader_attacks, AnnouncedFileOfTwoToTheSixtyTwoBytesFailsInsteadOfHanging) {
  scripted_supernode sn;
  sn.content = std::string(4096, 'x');
  sn.lie_in_registration = [](proto::task_info& i) {
    i.content_length = std::int64_t{1} << 62;
    i.piece_count = static_cast<std::int64_t>(piece_count(std::uint64_t{1} << 62, i.piece_size));
  };
  auto r = run_engine(sn);
  EXPECT_EQ(r.outcome.ec, errc::protocol_error);
  EXPECT_NE(r.outcome.message.find("content_length"), std::string::npos) << r.outcome.message;
}

TEST(downloader_attacks, AssignmentOutsideItsPieceIsRefusedBeforeAnyFetch) {
  scripted_supernode sn;
  sn.content = std::string(3 * 4096, 'x');
  sn.lie_in_sync = [](proto::sync_response& out) {
    for (auto& a : out.assignments) a.offset += 1;
  };
  auto r = run_engine(sn);
  EXPECT_EQ(r.outcome.ec, errc::protocol_error);
  EXPECT_TRUE(sn.served.empty()) << "a piece was fetched for an assignment that does not fit";
}

TEST(downloader_attacks, ASupernodeNamingAnotherTaskThanTheDaemonServesIsRefused) {
  // The daemon serves pieces under the id it computed; a supernode that calls
  // the task otherwise (it took a header for a credential) must not have
  // those pieces land under the public id.
  scripted_supernode sn;
  sn.content = std::string(3 * 4096, 'x');
  auto r = run_engine(sn, std::nullopt, [](dfget::download_request& req) {
    req.expect_task_id = std::string(64, 'b');
  });
  EXPECT_EQ(r.outcome.ec, errc::protocol_error);
  EXPECT_NE(r.outcome.message.find("--credential-header"), std::string::npos) << r.outcome.message;
  EXPECT_TRUE(sn.served.empty()) << "a piece was fetched for a task of another name";
  // Named as expected, the same download goes through.
  scripted_supernode same;
  same.content = sn.content;
  auto ok = run_engine(same, std::nullopt,
                       [&](dfget::download_request& req) { req.expect_task_id = same.task_id; });
  EXPECT_FALSE(ok.outcome.ec) << ok.outcome.message;
}

TEST(downloader_attacks, AFileLargerThanTheDiskFailsBeforeAnyPieceIsFetched) {
  // Eight TiB is within the protocol's limits; a supernode may say so, truly
  // or not. The store says the disk cannot hold it: fail now, clearly.
  scripted_supernode sn;
  sn.content = std::string(3 * 4096, 'x');
  sn.lie_in_registration = [](proto::task_info& i) {
    i.content_length = std::int64_t{1} << 43;
    i.piece_size = 1 << 30;
    i.piece_count = 1 << 13;
  };
  auto r = run_engine(sn);
  EXPECT_EQ(r.outcome.ec, errc::io_error);
  EXPECT_NE(r.outcome.message.find("no room"), std::string::npos) << r.outcome.message;
  EXPECT_TRUE(sn.served.empty());
}

TEST(OriginProbe, AnOriginCannotWriteEscapeSequencesToTheUsersTerminal) {
  // What -S and --spider print comes from the origin: an ESC could recolour
  // or rewrite the screen, a CR overwrite the line before it.
  EXPECT_EQ(dfget::terminal_safe("ok\x1b[2J\rfake\x7f"), "ok?[2J?fake?");
  EXPECT_EQ(dfget::terminal_safe("Sun, 06 Nov 1994 08:49:37 GMT"), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(dfget::terminal_safe("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 stays
}
