// SPDX-License-Identifier: Apache-2.0
// Peer-to-peer on loopback: a supernode and ten dfget daemons (127.0.0.2-11), real processes.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include "damselfly/common/task_id.hpp"
#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/temp_dir.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t mib = 1 << 20;

/// An origin, a supernode with an upload cap, and N daemons with upload caps:
/// the supernode alone could not feed everyone quickly, so peers must share.
class swarm_test : public workspace_test {
 protected:
  swarm_test() : workspace_test("damselfly-p2p") {}
  void TearDown() override {
    for (const auto& d : daemons_) expect_no_sanitizer_report(d->log());
    if (supernode_) expect_no_sanitizer_report(supernode_->log());
  }
  void start(int daemons, const std::string& supernode_rate, const std::string& daemon_rate,
             std::uint64_t size, const std::vector<std::string>& supernode_args = {}) {
    src_ = dir_ / "www" / "release.bin";
    make_file(src_, size, 77);
    size_ = size;
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    supernode_ = std::make_unique<supernode_server>(dir_ / "cache", dir_ / "logs", [&] {
      std::vector<std::string> args{
          "--upload-rate", supernode_rate, "--seed-slots", "4", "--peer-timeout", "6"};
      args.insert(args.end(), supernode_args.begin(), supernode_args.end());
      return args;
    }());
    for (int i = 0; i < daemons; ++i) {
      daemons_.push_back(std::make_unique<daemon_server>(
          2 + i, supernode_->address(), dir_.path(),
          std::vector<std::string>{"--upload-rate", daemon_rate, "--upload-slots", "8"}));
    }
  }
  std::vector<std::unique_ptr<process>> start_clients(std::size_t skip = SIZE_MAX) {
    std::vector<std::unique_ptr<process>> clients;
    for (std::size_t i = 0; i < daemons_.size(); ++i) {
      if (i == skip) {
        clients.push_back(nullptr);
        continue;
      }
      clients.push_back(daemons_[i]->start_client(origin_->url("release.bin"), out(i)));
    }
    return clients;
  }
  /// Once daemon 3 holds pieces others may be fetching from it, kills it:
  /// every other client ends with the whole file, and its client with none.
  void kill_one_mid_transfer() {
    auto clients = start_clients();
    auto& victim = daemons_[3];
    for (int i = 0; i < 200; ++i) {
      if (metric(victim->metrics(), R"(damselfly_daemon_download_bytes_total{from="supernode"})") +
              metric(victim->metrics(), R"(damselfly_daemon_download_bytes_total{from="peer"})") >
          8.0 * mib)
        break;
      std::this_thread::sleep_for(50ms);
    }
    victim->kill();
    expect_all_correct(clients, 3);
    EXPECT_FALSE(fs::exists(out(3)));  // its client got no partial file either
  }
  /// Once the daemons have 16 MiB from each other, kills the supernode and
  /// starts it again: every client ends with the whole file, and peers
  /// registered again with their bitmaps (told so by a refused connection
  /// or by an unknown_peer).
  void kill_the_supernode_mid_transfer() {
    auto clients = start_clients();
    for (int i = 0; i < 200; ++i) {
      if (sum_metric(daemons_, R"(damselfly_daemon_download_bytes_total{from="peer"})") >
          16.0 * mib)
        break;
      std::this_thread::sleep_for(50ms);
    }
    supernode_->kill_and_restart();
    expect_all_correct(clients);
    int reregistered = 0;
    for (const auto& d : daemons_)
      reregistered += d->log().find("registered again") != std::string::npos;
    EXPECT_GT(reregistered, 0) << daemons_[0]->log();
  }
  fs::path out(std::size_t i) const { return dir_ / "out" / ("node" + std::to_string(i)); }
  /// Six daemons download while a corrupting peer (start_bad_peer) is in
  /// the swarm from the start: every file ends whole, and the peer was used,
  /// but at most twice by each daemon (2 requests in flight at one source,
  /// none after its first bad piece).
  void run_with_a_corrupting_peer(const std::vector<std::string>& supernode_args,
                                  const std::vector<std::string>& bad_peer_args = {}) {
    start(6, "8M", "8M", 32 * mib, supernode_args);
    auto bad = start_bad_peer(bad_peer_args);
    ASSERT_TRUE(bad);
    auto clients = start_clients();
    expect_all_correct(clients);
    double bad_digests =
        sum_metric(daemons_, R"(damselfly_daemon_piece_failures_total{reason="bad_digest"})");
    EXPECT_GT(bad_digests, 0) << "the corrupting peer was never used";
    EXPECT_LE(bad_digests, 6.0 * 2);
  }
  /// A peer at 127.0.0.(50 + n) that claims every piece of the file and
  /// serves garbage (tests/support/src/bad_peer.cpp), registered; null if it never was.
  std::unique_ptr<process> start_bad_peer(const std::vector<std::string>& extra = {},
                                          unsigned n = 0) {
    const auto name = "bad_peer" + (n == 0 ? std::string() : std::to_string(n));
    auto ready = dir_ / (name + ".ready");
    std::vector<std::string> argv{
        bad_peer_binary(),
        "--listen",
        "127.0.0." + std::to_string(50 + n) + ":" + std::to_string(free_port()),
        "--supernode",
        supernode_->address(),
        "--url",
        origin_->url("release.bin"),
        "--ready-file",
        ready.string(),
        "--peer-id",
        "bad-peer-" + std::to_string(n)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto bad = std::make_unique<process>(argv, dir_ / "logs" / (name + ".log"));
    if (wait_for_file(ready, 30s).empty()) {
      ADD_FAILURE() << bad->output();
      return nullptr;
    }
    return bad;
  }
  /// Every client except `skip` exits 0 with the right bytes.
  void expect_all_correct(std::vector<std::unique_ptr<process>>& clients,
                          std::size_t skip = SIZE_MAX) {
    auto want = sha256_file(src_);
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (i == skip || !clients[i]) continue;
      auto status = clients[i]->wait(180s);
      ASSERT_TRUE(status) << "client " << i << " still running";
      EXPECT_EQ(*status, 0) << clients[i]->output();
      EXPECT_EQ(sha256_file(out(i)), want) << "node " << i;
    }
  }

  fs::path src_;
  std::uint64_t size_ = 0;
  std::unique_ptr<origin_server> origin_;
  std::unique_ptr<supernode_server> supernode_;
  std::vector<std::unique_ptr<daemon_server>> daemons_;
};

}  // namespace

TEST_F(swarm_test, TenDaemonsGetTheFileMostlyFromEachOther) {
  // Central scheduling, the supernode's connections on two threads of their own.
  start(10, "12M", "12M", 64 * mib, {"--connection-threads", "2"});
  auto clients = start_clients();
  expect_all_correct(clients);
  // The origin sent the file once (plus the probe byte).
  auto origin_bytes = static_cast<double>(origin_->body_bytes());
  EXPECT_GE(origin_bytes, static_cast<double>(size_));
  EXPECT_LE(origin_bytes, static_cast<double>(size_) * 1.02);
  double from_peers = sum_metric(daemons_, R"(damselfly_daemon_download_bytes_total{from="peer"})");
  double from_supernode =
      sum_metric(daemons_, R"(damselfly_daemon_download_bytes_total{from="supernode"})");
  double uploaded = sum_metric(daemons_, "damselfly_daemon_upload_bytes_total");
  EXPECT_GE(from_peers + from_supernode, 10.0 * static_cast<double>(size_));
  EXPECT_GE(from_peers / (from_peers + from_supernode), 0.60)
      << "from peers " << from_peers << ", from supernode " << from_supernode;
  // What one sends another gets, less the few pieces fetched twice in the endgame.
  EXPECT_GE(uploaded, from_peers);
  EXPECT_LE(uploaded, from_peers * 1.10);
  auto sn = supernode_->metrics();
  EXPECT_GT(metric(sn, R"(damselfly_supernode_assignments_total{source="peer"})"), 0);
  EXPECT_GE(metric(sn, "damselfly_supernode_peers"), 10);
  // Ten peers are below the default --parents-from: scheduled piece by piece,
  // no have streams.
  EXPECT_EQ(sum_metric(daemons_, R"(damselfly_daemon_have_notices_total{outcome="sent"})"), 0);
}

TEST_F(swarm_test, ASwarmGrowingPastParentsFromMovesToParentSetsMidDownload) {
  // By default a task's peers get parent sets once it has had 16 registered:
  // here 6. Three daemons start alone and are scheduled piece by piece; once
  // seven more have registered, every peer, the first three mid-download
  // too, picks its pieces among its parents'.
  start(10, "6M", "6M", 48 * mib, {"--parents-from", "6", "--piece-size", "1M"});
  std::vector<std::unique_ptr<process>> clients;
  for (std::size_t i = 0; i < 3; ++i)
    clients.push_back(daemons_[i]->start_client(origin_->url("release.bin"), out(i)));
  auto early_bytes = [&] {
    double sum = 0;
    for (std::size_t i = 0; i < 3; ++i)
      sum +=
          metric(daemons_[i]->metrics(),
                 R"(damselfly_daemon_download_bytes_total{from="supernode"})") +
          metric(daemons_[i]->metrics(), R"(damselfly_daemon_download_bytes_total{from="peer"})");
    return sum;
  };
  for (int i = 0; i < 200 && early_bytes() < 6.0 * mib; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_GE(early_bytes(), 6.0 * mib);
  auto sn = supernode_->metrics();
  const double central_before =
      metric(sn, R"(damselfly_supernode_assignments_total{source="peer"})") +
      metric(sn, R"(damselfly_supernode_assignments_total{source="supernode"})");
  EXPECT_GT(central_before, 0) << "the first three were scheduled piece by piece";
  for (std::size_t i = 3; i < daemons_.size(); ++i)
    clients.push_back(daemons_[i]->start_client(origin_->url("release.bin"), out(i)));
  expect_all_correct(clients);
  EXPECT_GT(sum_metric(daemons_, R"(damselfly_daemon_have_notices_total{outcome="sent"})"), 0);
  // The first three opened their parents' have streams too.
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_NE(daemons_[i]->log().find("schedules by parent sets"), std::string::npos) << i;
  // The supernode chose no peer's source once the swarm had parent sets.
  sn = supernode_->metrics();
  EXPECT_LE(metric(sn, R"(damselfly_supernode_assignments_total{source="peer"})"),
            central_before + 3 * 48);
}

TEST_F(swarm_test, TenDaemonsWithParentSetsPickTheirPiecesAndTheSupernodeSendsEachOnce) {
  // The supernode gives each daemon 4 parents and sends each piece once;
  // the daemons hear what their parents hold and pick the rest themselves.
  // Its connections run on three threads, its handlers on the fourth.
  start(10, "12M", "12M", 64 * mib,
        {"--parents", "4", "--piece-size", "1M", "--connection-threads", "3"});
  const auto began = std::chrono::steady_clock::now();
  auto clients = start_clients();
  expect_all_correct(clients);
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - began)
          .count();
  auto origin_bytes = static_cast<double>(origin_->body_bytes());
  EXPECT_LE(origin_bytes, static_cast<double>(size_) * 1.02);
  double from_peers = sum_metric(daemons_, R"(damselfly_daemon_download_bytes_total{from="peer"})");
  double from_supernode =
      sum_metric(daemons_, R"(damselfly_daemon_download_bytes_total{from="supernode"})");
  EXPECT_GE(from_peers + from_supernode, 10.0 * static_cast<double>(size_));
  // Each piece left the supernode once (a lost one again): the rest came from peers.
  EXPECT_LE(from_supernode, static_cast<double>(size_) * 1.10)
      << "from peers " << from_peers << ", from supernode " << from_supernode;
  auto sn = supernode_->metrics();
  EXPECT_LE(metric(sn, R"(damselfly_supernode_assignments_total{source="supernode"})"), 64 * 1.10);
  // The supernode chose no peer's source: the daemons picked among their parents.
  EXPECT_EQ(metric(sn, R"(damselfly_supernode_assignments_total{source="peer"})"), 0);
  // Results are reported in batches, at most one a second, besides each
  // piece from the supernode (at once: that frees its slot) and the last:
  // not a sync per piece (640).
  const double injected =
      metric(sn, R"(damselfly_supernode_assignments_total{source="supernode"})");
  const double reports = metric(sn, R"(damselfly_supernode_syncs_total{kind="report"})");
  EXPECT_GE(reports, 10);
  EXPECT_LE(reports, injected + 10.0 * static_cast<double>(seconds + 2));
  EXPECT_GT(metric(sn, R"(damselfly_supernode_syncs_total{kind="ask"})"), 0);
  // An ask held for a piece to inject is woken for a piece it may get,
  // not by every piece cached and every report: a piece cached wakes one
  // held ask, a report of one of the supernode's pieces one (and an ask
  // that got a piece the next); the rest are asks held to their end (2 s).
  // Woken by everything, the held asks woke about 300 times here, against
  // about 65.
  EXPECT_LE(metric(sn, "damselfly_supernode_held_sync_wakeups_total"),
            64 + injected + 10.0 * static_cast<double>(seconds + 2));
  // Edges go both ways: a parent leaves out of its have stream what its
  // child said it holds (and still tells the rest).
  EXPECT_GT(sum_metric(daemons_, R"(damselfly_daemon_have_notices_total{outcome="sent"})"), 0);
  EXPECT_GT(sum_metric(daemons_, R"(damselfly_daemon_have_notices_total{outcome="skipped"})"), 0);
  if (HasFailure())
    for (const auto& d : daemons_) {
      auto log = d->log();
      if (log.find("scheduled by the supernode now") != std::string::npos) std::cerr << log;
    }
}

TEST_F(swarm_test, SurvivesADaemonKilledMidTransfer) {
  start(10, "8M", "8M", 48 * mib);
  kill_one_mid_transfer();
}

TEST_F(swarm_test, WithParentSetsSurvivesADaemonKilledMidTransfer) {
  // Its children's have streams end: they give it up, and what only it
  // held goes back to the supernode to give.
  start(10, "8M", "8M", 48 * mib, {"--parents", "4", "--piece-size", "1M"});
  kill_one_mid_transfer();
  EXPECT_GT(sum_metric(daemons_, R"(damselfly_daemon_have_notices_total{outcome="sent"})"), 0);
}

TEST_F(swarm_test, CorruptingPeerIsDetectedAndAvoided) {
  run_with_a_corrupting_peer({});
  EXPECT_GT(metric(supernode_->metrics(),
                   R"(damselfly_supernode_piece_failures_total{reason="bad_digest"})"),
            0);
}

TEST_F(swarm_test, AttackAParentClaimingEveryPieceAndSigningItsGarbageIsDroppedAtItsFirstPiece) {
  // With parent sets a corrupting peer is a parent too: it streams that it
  // holds every piece and sends garbage under a signature of its own. Each
  // child drops it at its first piece; the supernode still injects every
  // piece once (the claim is no copy), and every file ends whole.
  run_with_a_corrupting_peer({"--parents", "8", "--piece-size", "1M"});
  std::size_t dropped = 0;
  for (const auto& d : daemons_)
    dropped += d->log().find("parent 127.0.0.50:") != std::string::npos ? 1 : 0;
  EXPECT_GT(dropped, 0u) << "no daemon gave the corrupting parent up";
}

TEST_F(swarm_test, AttackAParentSendingGarbageWithoutASignatureIsDroppedAtItsFirstRejectedPiece) {
  // The same parent, but its garbage comes with no signature (as pieces a
  // parent got without one would): each child reports what arrived, the
  // supernode rejects it, and the child asks that parent nothing more —
  // not the same garbage again and again until a piece runs out of tries.
  run_with_a_corrupting_peer({"--parents", "8", "--piece-size", "1M"}, {"--unsigned"});
  std::size_t dropped = 0;
  for (const auto& d : daemons_)
    dropped += d->log().find("parent 127.0.0.50:") != std::string::npos ? 1 : 0;
  EXPECT_GT(dropped, 0u) << "no daemon gave the corrupting parent up";
  EXPECT_GT(metric(supernode_->metrics(),
                   R"(damselfly_supernode_piece_failures_total{reason="bad_digest"})"),
            0);
}

TEST_F(swarm_test, AttackParentsRefusingEveryTicketCostNoChildItsDownload) {
  // Six parents claim piece 31 and answer every request 403, as parents
  // still registered at a fleet's dead supernode answer the tickets of its
  // successor. A refusal rests that parent; it is not the piece's failure:
  // counted as one, every child failed ("piece 31 failed 5 times"), as
  // downloads did in a fleet's failover with parent sets.
  start(6, "8M", "8M", 32 * mib, {"--parents", "8", "--piece-size", "1M"});
  std::vector<std::unique_ptr<process>> bad;  // at 127.0.0.50-55
  for (unsigned n = 0; n < 6; ++n) {
    bad.push_back(start_bad_peer({"--refuse", "--claim", "31"}, n));
    ASSERT_TRUE(bad.back());
  }
  auto clients = start_clients();
  expect_all_correct(clients);
  std::size_t refusals = 0;
  for (const auto& b : bad) {
    const auto log = b->output();
    for (auto at = log.find("refused"); at != std::string::npos; at = log.find("refused", at + 1))
      ++refusals;
  }
  EXPECT_GT(refusals, 0u) << "no child asked a refusing parent";
}

TEST_F(swarm_test, SurvivesASupernodeKilledAndRestartedMidTransfer) {
  start(10, "6M", "6M", 48 * mib);
  kill_the_supernode_mid_transfer();
}

TEST_F(swarm_test, WithParentSetsSurvivesASupernodeKilledAndRestartedMidTransfer) {
  start(10, "6M", "6M", 48 * mib, {"--parents", "4", "--piece-size", "1M"});
  kill_the_supernode_mid_transfer();
  EXPECT_GT(sum_metric(daemons_, R"(damselfly_daemon_have_notices_total{outcome="sent"})"), 0);
}

TEST_F(swarm_test, RestartedDaemonKeepsServingWhatItHolds) {
  start(2, "8M", "8M", 8 * mib);
  auto first = daemons_[0]->start_client(origin_->url("release.bin"), out(0));
  ASSERT_EQ(first->wait(120s), std::optional<int>(0)) << first->output();
  daemons_[0]->restart();
  // The bitmap survived: the restarted daemon serves every piece at once ...
  auto piece = http_get(daemons_[0]->port(), "/pieces/" + std::string(64, '0'),
                        "Range: bytes=0-0\r\n", daemons_[0]->ip());
  EXPECT_EQ(piece.status, 404);  // (an unknown task is not served)
  double before =
      metric(daemons_[0]->metrics(), R"(damselfly_daemon_download_bytes_total{from="supernode"})");
  EXPECT_LE(before, 0);  // counters start over with the process
  // ... and a second node gets pieces from it, the supernode serving only what it must.
  auto second = daemons_[1]->start_client(origin_->url("release.bin"), out(1));
  ASSERT_EQ(second->wait(120s), std::optional<int>(0)) << second->output();
  EXPECT_EQ(sha256_file(out(1)), sha256_file(src_));
  EXPECT_GT(metric(daemons_[1]->metrics(), R"(damselfly_daemon_download_bytes_total{from="peer"})"),
            0);
  EXPECT_GT(metric(daemons_[0]->metrics(), "damselfly_daemon_upload_bytes_total"), 0);
  // A third download on the restarted daemon needs nothing new.
  auto again = daemons_[0]->start_client(origin_->url("release.bin"), dir_ / "out" / "again");
  ASSERT_EQ(again->wait(120s), std::optional<int>(0)) << again->output();
  EXPECT_EQ(sha256_file(dir_ / "out" / "again"), sha256_file(src_));
  double fetched =
      metric(daemons_[0]->metrics(), R"(damselfly_daemon_download_bytes_total{from="supernode"})") +
      metric(daemons_[0]->metrics(), R"(damselfly_daemon_download_bytes_total{from="peer"})");
  EXPECT_EQ(fetched, 0);
}

TEST_F(swarm_test, DaemonFallsBackToTheOriginWithoutASupernode) {
  start(1, "8M", "8M", 6 * mib);
  supernode_->stop();
  auto client = daemons_[0]->start_client(origin_->url("release.bin"), out(0));
  ASSERT_EQ(client->wait(120s), std::optional<int>(0)) << client->output();
  EXPECT_EQ(sha256_file(out(0)), sha256_file(src_));
  EXPECT_EQ(
      metric(daemons_[0]->metrics(), R"(damselfly_daemon_download_bytes_total{from="origin"})"),
      static_cast<double>(size_));
  // Told not to, the daemon refuses instead (and leaves nothing at the output).
  auto refused = daemons_[0]->start_client(origin_->url("release.bin", "other=1"), out(1),
                                           {"--no-back-source"});
  ASSERT_EQ(refused->wait(120s), std::optional<int>(3)) << refused->output();
  EXPECT_NE(refused->output().find("back-to-source is off"), std::string::npos)
      << refused->output();
  EXPECT_FALSE(fs::exists(out(1)));
}

TEST_F(swarm_test, CacheQuotaEvictsTheLeastRecentlyUsedFinishedTask) {
  start(0, "0", "0", 1 * mib);
  for (const char* name : {"a.bin", "b.bin", "c.bin"})
    make_file(dir_ / "www" / name, 8 * mib, name[0]);
  daemons_.push_back(std::make_unique<daemon_server>(
      2, supernode_->address(), dir_.path(), std::vector<std::string>{"--cache-quota", "20M"}));
  auto& d = *daemons_[0];
  auto get = [&](const std::string& name) {
    auto c = d.start_client(origin_->url(name), dir_ / "out" / name);
    ASSERT_EQ(c->wait(60s), std::optional<int>(0)) << c->output();
    std::this_thread::sleep_for(1100ms);  // last-use times have one-second resolution
  };
  auto cache = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "cache");
    args.push_back("--daemon-socket");
    args.push_back(d.socket().string());
    return run_dfget(args, dir_ / "logs");
  };
  get("a.bin");
  get("b.bin");
  get("a.bin");  // a is now more recent than b
  get("c.bin");  // 24 MiB held, quota 20 MiB: b goes
  auto list = cache({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find(origin_->url("a.bin")), std::string::npos) << list.output;
  EXPECT_EQ(list.output.find(origin_->url("b.bin")), std::string::npos) << list.output;
  EXPECT_NE(list.output.find(origin_->url("c.bin")), std::string::npos) << list.output;
  EXPECT_EQ(metric(d.metrics(), "damselfly_daemon_cache_evictions_total"), 1);
  // Every output survived: eviction touches the cache, never users' files.
  for (const char* name : {"a.bin", "b.bin", "c.bin"})
    EXPECT_EQ(sha256_file(dir_ / "out" / name), sha256_file(dir_ / "www" / name)) << name;

  // rm by task id (the first column of the listing), and clear errors for bad ids.
  auto line_start = list.output.find('\n') + 1;
  auto first_id = list.output.substr(line_start, 64);
  auto rm = cache({"rm", first_id});
  EXPECT_EQ(rm.exit_code, 0) << rm.output;
  EXPECT_NE(rm.output.find("removed 1 task(s)"), std::string::npos) << rm.output;
  EXPECT_EQ(cache({"list"}).output.find(first_id), std::string::npos);
  auto bogus = cache({"rm", std::string(64, 'f')});
  EXPECT_EQ(bogus.exit_code, 2) << bogus.output;
  EXPECT_NE(bogus.output.find("no task"), std::string::npos);
  EXPECT_EQ(cache({"gc"}).exit_code, 0);
}

TEST_F(swarm_test, FirstCallsStartOneDaemonWhichExitsWhenIdle) {
  start(0, "0", "0", 4 * mib);
  auto sock = dir_ / "auto" / "dfget.sock";
  auto data = dir_ / "auto" / "data";
  auto port = free_port();
  // Five dfget at the same moment, no daemon yet: they share one they start.
  std::vector<std::unique_ptr<process>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<process>(
        std::vector<std::string>{dfget_binary(), origin_->url("release.bin"), "-O", out(i).string(),
                                 "--supernode", supernode_->address(), "--daemon-socket",
                                 sock.string(), "--daemon-data-dir", data.string(),
                                 "--daemon-listen", "127.0.0.70:" + std::to_string(port),
                                 "--idle-exit", "2"},
        dir_ / "logs" / ("auto-client-" + std::to_string(i) + ".log")));
  }
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(clients[i]->wait(60s), std::optional<int>(0)) << clients[i]->output();
    EXPECT_EQ(sha256_file(out(i)), sha256_file(src_));
  }
  EXPECT_GT(http_get(port, "/healthz", "", "127.0.0.70").status,
            0);  // it is a real daemon, still up
  // Nothing to do for 2 s: it goes away by itself.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(100ms);
    gone = http_get(port, "/healthz", "", "127.0.0.70").status == 0;
  }
  EXPECT_TRUE(gone);
  std::this_thread::sleep_for(200ms);  // its last log lines reach the file as it exits
  auto log = read_text(data / "daemon.log");
  std::size_t started = 0;
  for (auto pos = log.find("serving pieces"); pos != std::string::npos;
       pos = log.find("serving pieces", pos + 1))
    ++started;
  EXPECT_EQ(started, 1u) << log;
  EXPECT_NE(read_text(data / "daemon.log").find("exiting"), std::string::npos);
}

TEST_F(swarm_test, SigtermMidTransferStopsDaemonAndSupernodeWithExitStatusZero) {
  // A slow download is in progress when the daemon is told to stop: the
  // download is cancelled, every coroutine unwinds, and the process exits 0
  // (under ASan, its leak check runs at that exit). No partial file appears.
  start(1, "2M", "0", 32u << 20);
  auto clients = start_clients();
  auto deadline = std::chrono::steady_clock::now() + 30s;
  const std::string from_seed = R"(damselfly_daemon_download_bytes_total{from="supernode"})";
  while (sum_metric(daemons_, from_seed) < 1 << 20 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  ASSERT_GE(sum_metric(daemons_, from_seed), 1 << 20);
  EXPECT_EQ(daemons_[0]->terminate(20s), std::optional<int>(0)) << daemons_[0]->log();
  auto client_status = clients[0]->wait(20s);
  ASSERT_TRUE(client_status);
  EXPECT_NE(*client_status, 0);
  EXPECT_FALSE(fs::exists(out(0)));
  EXPECT_EQ(supernode_->stop(20s), std::optional<int>(0)) << supernode_->log();
}

TEST_F(swarm_test, DaemonsNeitherCacheNorServeWhatCredentialsFetched) {
  start(2, "0", "0", 4 * mib);
  auto url = origin_->url("release.bin", "auth=s3cret");
  auto first = daemons_[0]->start_client(url, out(0), {"--header", "Authorization: Bearer s3cret"});
  ASSERT_EQ(first->wait(120s), std::optional<int>(0)) << first->output();
  EXPECT_EQ(sha256_file(out(0)), sha256_file(src_));
  // The daemon keeps nothing it could hand out: not under the URL's id,
  // and it took no part as a source.
  auto public_id = *damselfly::make_task_id({url, {}, "", "", "", ""});
  EXPECT_EQ(http_get(daemons_[0]->port(), "/pieces/" + public_id, "Range: bytes=0-0\r\n",
                     daemons_[0]->ip())
                .status,
            404);
  EXPECT_FALSE(fs::exists(daemons_[0]->data_dir() / "tasks" / public_id));
  // A second node without the credential gets nothing from anyone (the
  // origin refuses it): exit non-zero, no file.
  auto second = daemons_[1]->start_client(url, out(1));
  auto status = second->wait(120s);
  ASSERT_TRUE(status);
  EXPECT_NE(*status, 0) << second->output();
  EXPECT_FALSE(fs::exists(out(1)));
  EXPECT_LE(metric(daemons_[0]->metrics(), "damselfly_daemon_upload_bytes_total"), 0);
  // With it, the second node downloads it too.
  auto third = daemons_[1]->start_client(url, out(1), {"--header", "Authorization: Bearer s3cret"});
  ASSERT_EQ(third->wait(120s), std::optional<int>(0)) << third->output();
  EXPECT_EQ(sha256_file(out(1)), sha256_file(src_));
}

TEST_F(swarm_test, WhatNodesHoldIsTheirOwnersAloneWhateverTheUmask) {
  // Started with umask 000: before, every cache file was world-readable
  // (private content included) and the socket world-writable.
  auto old = ::umask(0);
  start(1, "0", "0", 2 * mib);
  ::umask(old);
  auto client = daemons_[0]->start_client(origin_->url("release.bin"), out(0));
  ASSERT_EQ(client->wait(120s), std::optional<int>(0)) << client->output();
  auto mode = [](const fs::path& p) {
    return fs::symlink_status(p).permissions() & fs::perms::all;
  };
  auto owner_rw = fs::perms::owner_read | fs::perms::owner_write;
  for (const auto& root : {daemons_[0]->data_dir(), dir_ / "cache"}) {
    EXPECT_EQ(mode(root), fs::perms::owner_all) << root;
    EXPECT_EQ(mode(root / "tasks"), fs::perms::owner_all) << root;
    int files = 0;
    for (const auto& task : fs::directory_iterator(root / "tasks")) {
      EXPECT_EQ(mode(task.path()), fs::perms::owner_all) << task.path();
      for (const auto& f : fs::directory_iterator(task.path())) {
        ++files;
        // The one exception: the data file that is also the client's output
        // (one inode, linked) has the mode the client gave its output; only
        // the client's own name reaches it, the directories above are the
        // daemon's alone.
        struct stat cached {
        }, output{};
        if (::stat(f.path().c_str(), &cached) == 0 && ::stat(out(0).c_str(), &output) == 0 &&
            cached.st_ino == output.st_ino && cached.st_dev == output.st_dev)
          continue;
        EXPECT_EQ(mode(f.path()) & ~owner_rw, fs::perms::none) << f.path();
      }
    }
    EXPECT_GT(files, 0) << root;
  }
  // Root's daemon: its socket is for root and the damselfly group only.
  EXPECT_EQ(mode(daemons_[0]->socket()) & fs::perms::others_all, fs::perms::none);
}
