// SPDX-License-Identifier: Apache-2.0
// Three supernodes and ten daemons on loopback: tasks spread by hashing, and a lost owner costs no
// download.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "damselfly/common/digest.hpp"
#include "damselfly/common/hex.hpp"
#include "damselfly/common/task_id.hpp"
#include "damselfly/proto/supernode_list.hpp"
#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t mib = 1 << 20;
constexpr const char* admin_token = "ad41e7a1b2c3d4e5f60718293a4b5c6d";

class fleet_test : public workspace_test {
 protected:
  fleet_test() : workspace_test("damselfly-fleet") {}
  void TearDown() override {
    for (const auto& d : daemons_) expect_no_sanitizer_report(d->log());
    for (const auto& s : supernodes_) expect_no_sanitizer_report(s->log());
  }
  /// Three supernodes sharing one identity key, then `daemons` daemons that
  /// list all three (in a different order each, as hosts configured by hand would).
  void start(int daemons, const std::string& supernode_rate, const std::string& daemon_rate,
             const std::vector<std::string>& supernode_args = {}) {
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    std::vector<std::uint16_t> ports;
    std::string fleet;
    for (int i = 0; i < 3; ++i) {
      ports.push_back(free_port());
      fleet += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(ports.back());
    }
    // The admin token opens the piece maps the test follows.
    write_secret(dir_ / "admin.token", admin_token);
    for (int i = 0; i < 3; ++i) {
      fs::create_directories(dir_ / ("logs" + std::to_string(i)));
      std::vector<std::string> args{"--identity-key-file",
                                    (dir_ / "fleet.key").string(),
                                    "--admin-token-file",
                                    (dir_ / "admin.token").string(),
                                    "--fleet",
                                    fleet,
                                    "--upload-rate",
                                    supernode_rate,
                                    "--seed-slots",
                                    "4",
                                    "--peer-timeout",
                                    "6"};
      args.insert(args.end(), supernode_args.begin(), supernode_args.end());
      supernodes_.push_back(std::make_unique<supernode_server>(
          dir_ / ("cache" + std::to_string(i)), dir_ / ("logs" + std::to_string(i)), args,
          ports[static_cast<std::size_t>(i)]));
    }
    for (int i = 0; i < daemons; ++i) {
      std::string list;
      for (int k = 0; k < 3; ++k)
        list += (k ? "," : "") + supernodes_[static_cast<std::size_t>((i + k) % 3)]->address();
      daemons_.push_back(std::make_unique<daemon_server>(
          2 + i, list, dir_.path(),
          std::vector<std::string>{"--upload-rate", daemon_rate, "--upload-slots", "8"}));
    }
  }
  static std::string task_id_of(const std::string& url) {
    damselfly::task_identity identity;
    identity.url = url;
    auto id = damselfly::make_task_id(identity);
    EXPECT_TRUE(id) << url;
    return id ? *id : url;
  }
  /// Indexes of supernodes_ in the order of the task of `url`, as every
  /// client computes it: the owner first.
  std::vector<std::size_t> order_of(const std::string& url) const {
    std::vector<damselfly::host_port> hps;
    for (const auto& s : supernodes_) hps.push_back({"127.0.0.1", s->port()});
    damselfly::proto::supernode_list list(hps);
    return list.order_for(task_id_of(url), {});
  }
  fs::path out(std::size_t i) const { return dir_ / "out" / ("node" + std::to_string(i)); }
  /// Waits (bounded) until supernode `s`'s piece map shows a holder for each
  /// of the `pieces` pieces of `url`'s task; the last map seen.
  std::string wait_until_every_piece_has_a_holder(const std::string& url, std::size_t s,
                                                  std::size_t pieces) {
    auto target = "/api/v1/tasks/" + task_id_of(url) + "/pieces";
    std::string last;
    for (int i = 0; i < 400; ++i) {
      auto map = http_get(supernodes_[s]->port(), target, bearer_header(admin_token));
      last = map.body;
      if (map.status == 200) {
        auto holders = nlohmann::json::parse(map.body)["holders"];
        if (holders.size() == pieces &&
            std::all_of(holders.begin(), holders.end(), [](const auto& n) { return n > 0; }))
          break;
      }
      std::this_thread::sleep_for(50ms);
    }
    return last;
  }
  /// Waits (bounded, 20 s) until the daemons got `bytes` from supernodes in all.
  void wait_until_nodes_got_from_supernodes(std::uint64_t bytes) const {
    for (int i = 0; i < 400; ++i) {
      if (sum_metric(daemons_, R"(damselfly_daemon_download_bytes_total{from="supernode"})") >=
          static_cast<double>(bytes))
        return;
      std::this_thread::sleep_for(50ms);
    }
  }
  /// What the supernodes said about tasks: for a failure's message.
  std::string fleet_trail() const {
    std::string trail;
    for (std::size_t i = 0; i < supernodes_.size(); ++i) {
      std::istringstream lines(supernodes_[i]->log());
      for (std::string line; std::getline(lines, line);)
        if (line.find("info") != std::string::npos || line.find("warn") != std::string::npos)
          trail += "supernode " + std::to_string(i) + ": " + line + "\n";
    }
    return trail;
  }
  /// One dfget per daemon, each writing out(i).
  std::vector<std::unique_ptr<process>> start_clients(const std::string& url) const {
    std::vector<std::unique_ptr<process>> clients;
    for (std::size_t i = 0; i < daemons_.size(); ++i)
      clients.push_back(daemons_[i]->start_client(url, out(i)));
    return clients;
  }
  /// Every client exits 0 and every node's file is `source`, byte for byte.
  void expect_all_correct(std::vector<std::unique_ptr<process>>& clients, const fs::path& source) {
    auto want = sha256_file(source);
    bool trail_shown = false;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto status = clients[i]->wait(180s);
      ASSERT_TRUE(status) << "client " << i << " still running";
      if (*status != 0 && !trail_shown) {
        // What a stall looks like from the daemon's and the supernodes' side.
        trail_shown = true;
        auto log = daemons_[i]->log();
        ADD_FAILURE() << "daemon " << i << "'s log (end):\n"
                      << log.substr(log.size() > 6000 ? log.size() - 6000 : 0) << "\n"
                      << fleet_trail();
      }
      EXPECT_EQ(*status, 0) << "node " << i << ": " << clients[i]->output();
      EXPECT_EQ(sha256_file(out(i)), want) << "node " << i;
    }
  }

  std::unique_ptr<origin_server> origin_;
  std::vector<std::unique_ptr<supernode_server>> supernodes_;
  std::vector<std::unique_ptr<daemon_server>> daemons_;
};

}  // namespace

TEST_F(fleet_test, TasksSpreadOverAllThreeSupernodesAsTheHashingSays) {
  for (int i = 0; i < 30; ++i)
    make_file(dir_ / "www" / ("pkg" + std::to_string(i)), 64 * 1024, 100 + i);
  start(2, "100M", "100M");
  std::map<std::size_t, int> expected;
  for (int i = 0; i < 30; ++i) {
    auto url = origin_->url("pkg" + std::to_string(i));
    // Both daemons, each listing the supernodes in its own order.
    for (std::size_t d = 0; d < daemons_.size(); ++d) {
      auto client = daemons_[d]->start_client(url, out(d));
      auto status = client->wait(60s);
      ASSERT_TRUE(status && *status == 0) << client->output();
    }
    ++expected[order_of(url).front()];
  }
  for (std::size_t s = 0; s < supernodes_.size(); ++s) {
    EXPECT_GT(expected[s], 0) << "30 tasks and none for supernode " << s;
    EXPECT_EQ(metric(supernodes_[s]->metrics(), "damselfly_supernode_tasks"), expected[s])
        << "supernode " << s << " knows other tasks than it owns";
    // Its own count by the hashing, refreshed twice a second.
    double owned = -1;
    for (int i = 0; i < 40 && owned != expected[s]; ++i) {
      owned = metric(supernodes_[s]->metrics(), "damselfly_supernode_tasks_owned");
      if (owned != expected[s]) std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(owned, expected[s]) << "supernode " << s;
  }
}

TEST_F(fleet_test, AFleetSchedulesCentrallyUnlessParentSetsAreAskedFor) {
  // Through an owner's failover central scheduling was the faster: a
  // fleet's supernodes give parent sets only with --parents given, whatever
  // the swarm's size (--parents-from 1: any swarm would get them alone).
  make_file(dir_ / "www" / "release.bin", 8 * mib, 93);
  start(4, "16M", "16M", {"--piece-size", "1M", "--parents-from", "1"});
  auto clients = start_clients(origin_->url("release.bin"));
  expect_all_correct(clients, dir_ / "www" / "release.bin");
  EXPECT_EQ(sum_metric(daemons_, R"(damselfly_daemon_have_notices_total{outcome="sent"})"), 0);
}

TEST_F(fleet_test, WithParentSetsTheOwnerKilledMidTransferCostsNoNodeItsDownload) {
  // Peers move to the successor one by one; until all have, their tickets
  // are of two keys, and a parent refuses (403) a child registered at the
  // other supernode. That is a moment's rest for the parent, not a failure
  // of the piece: counted, five such parents in a row failed a download,
  // and a second sync of the same download registering at the successor
  // without the first one's new key was refused and failed it too.
  make_file(dir_ / "www" / "release.bin", 64 * mib, 92);
  start(10, "16M", "4M", {"--piece-size", "1M", "--parents", "4"});
  auto url = origin_->url("release.bin");
  auto owner = order_of(url).front();
  auto clients = start_clients(url);
  wait_until_every_piece_has_a_holder(url, owner, 64);
  // Frozen first, so that each download's two syncs are both waiting on it
  // when it dies and both lose it at the same moment.
  supernodes_[owner]->signal(SIGSTOP);
  std::this_thread::sleep_for(3s);
  supernodes_[owner]->kill();
  expect_all_correct(clients, dir_ / "www" / "release.bin");
  EXPECT_GT(sum_metric(daemons_, R"(damselfly_daemon_have_notices_total{outcome="sent"})"), 0);
  int moved = 0;
  for (const auto& d : daemons_)
    moved += d->log().find("moving to the task's next supernode") != std::string::npos;
  EXPECT_GT(moved, 0) << "no daemon was still downloading when the owner died";
}

TEST_F(fleet_test, TheOwnerKilledMidTransferCostsNoNodeItsDownload) {
  make_file(dir_ / "www" / "release.bin", 64 * mib, 91);
  start(10, "16M", "4M", {"--piece-size", "1M"});  // 64 pieces
  auto url = origin_->url("release.bin");
  auto order = order_of(url);
  auto owner = order.front();
  auto clients = start_clients(url);
  // Kill the owner once every piece has reached some peer: the swarm holds
  // the file between its peers, each node is far from done, and nothing but
  // the owner's digests dies with it.
  auto map_at_kill = wait_until_every_piece_has_a_holder(url, owner, 64);
  auto before_kill =
      sum_metric(daemons_, R"(damselfly_daemon_download_bytes_total{from="supernode"})") +
      sum_metric(daemons_, R"(damselfly_daemon_download_bytes_total{from="peer"})");
  EXPECT_LT(before_kill, 10.0 * 64 * mib * 0.8) << "the nodes were nearly done: no failover shown";
  EXPECT_EQ(metric(supernodes_[owner]->metrics(), "damselfly_supernode_tasks"), 1)
      << "the owner by hashing does not hold the task";
  supernodes_[owner]->kill();
  expect_all_correct(clients, dir_ / "www" / "release.bin");
  int moved = 0;
  for (const auto& d : daemons_)
    moved += d->log().find("moving to the task's next supernode") != std::string::npos;
  EXPECT_GT(moved, 0) << "no daemon was still downloading when the owner died";
  // The next supernode in the task's order took over; the third never heard of it.
  EXPECT_EQ(metric(supernodes_[order[1]]->metrics(), "damselfly_supernode_tasks"), 1);
  EXPECT_EQ(metric(supernodes_[order[2]]->metrics(), "damselfly_supernode_tasks"), 0);
  // The successor had the owner's digests: it scheduled the peers' pieces and
  // fetched from the origin only what no live peer held.
  EXPECT_EQ(metric(supernodes_[order[1]]->metrics(), "damselfly_supernode_takeovers_total"), 1);
  EXPECT_EQ(metric(supernodes_[order[1]]->metrics(), "damselfly_supernode_tasks_owned"), 0)
      << "the successor serves the task for its owner";
  auto origin_ratio = static_cast<double>(origin_->body_bytes()) / (64.0 * mib);
  std::printf("origin sent %.3fx the file; the nodes had %.0f%% of theirs at the kill\n",
              origin_ratio, 100 * before_kill / (10.0 * 64 * mib));
  std::string trail;
  for (const auto& d : daemons_) {
    std::istringstream lines(d->log());
    for (std::string line; std::getline(lines, line);)
      if (line.find("supernode") != std::string::npos) trail += d->ip() + " " + line + "\n";
  }
  EXPECT_LE(origin_ratio, 1.05) << "owner's map at the kill: " << map_at_kill << "\n"
                                << trail << supernodes_[order[1]]->log();
}

TEST_F(fleet_test, OwnerAndSuccessorBothKilledStillEveryNodeCompletes) {
  make_file(dir_ / "www" / "release.bin", 24 * mib, 92);
  start(6, "8M", "4M");
  auto url = origin_->url("release.bin");
  auto order = order_of(url);
  auto clients = start_clients(url);
  wait_until_nodes_got_from_supernodes(4 * mib);
  supernodes_[order[0]]->kill();
  supernodes_[order[1]]->kill();
  expect_all_correct(clients, dir_ / "www" / "release.bin");
  // The owner had sent its digests to both supernodes after it: the third
  // took over with them, and fetched again only pieces no peer held yet.
  EXPECT_EQ(metric(supernodes_[order[2]]->metrics(), "damselfly_supernode_takeovers_total"), 1);
  EXPECT_LE(static_cast<double>(origin_->body_bytes()), 2.05 * 24 * mib);
}

TEST_F(fleet_test, AttackADaemonWithTheClusterTokenCannotPlantDigestsInASupernode) {
  make_file(dir_ / "www" / "pkg", 3 * mib, 93);
  start(1, "100M", "100M");
  auto url = origin_->url("pkg");
  auto id = task_id_of(url);
  auto successor = order_of(url)[1];
  // What a hostile node would send: the right layout, its own digests.
  nlohmann::json forged = {
      {"task_id", id},
      {"content_length", 3 * mib},
      {"piece_size", 1 * mib},
      {"digests", {std::string(64, 'a'), std::string(64, 'b'), std::string(64, 'c')}},
      {"sent_at", std::time(nullptr)}};
  auto body = forged.dump();
  auto port = supernodes_[successor]->port();
  EXPECT_EQ(post_json(port, "/api/v1/replicas", body).status, 403) << "unsigned";
  EXPECT_EQ(post_json(port, "/api/v1/replicas", body,
                      "X-Damselfly-Fleet-Signature: " +
                          damselfly::hmac_sha256_hex("not the fleet's key",
                                                     "damselfly-replica\n" + body) +
                          "\r\n")
                .status,
            403)
      << "signed with another key";
  // Signed with the fleet's key but recorded long ago: a replay is refused too.
  std::ifstream key_file(dir_ / "fleet.key");
  std::string hex;
  std::getline(key_file, hex);
  auto key = *damselfly::from_hex(hex);
  forged["sent_at"] = std::time(nullptr) - 3600;
  auto old = forged.dump();
  EXPECT_EQ(post_json(port, "/api/v1/replicas", old,
                      "X-Damselfly-Fleet-Signature: " +
                          damselfly::hmac_sha256_hex(key, "damselfly-replica\n" + old) + "\r\n")
                .status,
            400)
      << "a replayed replica";
  EXPECT_EQ(metric(supernodes_[successor]->metrics(), "damselfly_supernode_replicas"), 0);
  // With the owner gone the successor fetches and hashes the file itself.
  supernodes_[order_of(url)[0]]->kill();
  auto client = daemons_[0]->start_client(url, out(0));
  auto status = client->wait(60s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << client->output();
  EXPECT_EQ(sha256_file(out(0)), sha256_file(dir_ / "www" / "pkg"));
  EXPECT_EQ(metric(supernodes_[successor]->metrics(), "damselfly_supernode_takeovers_total"), 0);
}

TEST_F(fleet_test, AttackPeersHoldingPiecesWhoseDigestsDiedWithTheOwnerCannotStallTheSwarm) {
  // The owner replicates twice a second: pieces it handed out in its last
  // half second are on peers, but their digests never reached the successor.
  // Such a replica is planted here (signed with the fleet's key), with a peer
  // claiming exactly those pieces. They cannot be checked against anything,
  // so the successor must fetch them from the origin: never assign them on
  // the peer's word, and never wait for digests that will not come.
  make_file(dir_ / "www" / "pkg", 4 * mib, 95);
  start(1, "100M", "100M", {"--piece-size", "1M"});  // the replica below names 1 MiB pieces
  auto url = origin_->url("pkg");
  auto order = order_of(url);
  auto successor = supernodes_[order[1]]->port();
  supernodes_[order[0]]->kill();
  auto before = origin_->body_bytes();
  auto head = http_get(origin_->port(), "/pkg", "Range: bytes=0-0\r\n");
  ASSERT_EQ(head.status, 206) << head.head;
  std::ifstream in(dir_ / "www" / "pkg", std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json replica = {
      {"task_id", task_id_of(url)},
      {"content_length", 4 * mib},
      {"piece_size", 1 * mib},
      {"version", "v1"},
      {"etag", head.header("ETag")},
      {"last_modified", head.header("Last-Modified")},
      {"digests",
       {damselfly::sha256_hex(std::string_view(data).substr(0, mib)),
        damselfly::sha256_hex(std::string_view(data).substr(mib, mib)), "", ""}},
      {"sent_at", std::time(nullptr)},
      {"held", 2}};
  std::ifstream key_file(dir_ / "fleet.key");
  std::string hex;
  std::getline(key_file, hex);
  auto body = replica.dump();
  ASSERT_EQ(post_json(successor, "/api/v1/replicas", body,
                      "X-Damselfly-Fleet-Signature: " +
                          damselfly::hmac_sha256_hex(*damselfly::from_hex(hex),
                                                     "damselfly-replica\n" + body) +
                          "\r\n")
                .status,
            200);
  // The peer that got pieces 2 and 3 from the owner just before it died (it
  // serves nothing: its address is a closed port).
  nlohmann::json claim = {{"url", url},
                          {"peer_id", "late-holder"},
                          {"upload_addr", "127.0.0.1:" + std::to_string(free_port())},
                          {"bitmap", "0011"}};
  auto registered = post_json(successor, "/api/v1/tasks", claim.dump());
  ASSERT_EQ(registered.status, 200) << registered.body;
  // It stays in the swarm (syncing every half second, asking for nothing),
  // as the owner's live peers do after a failover.
  auto task_id = nlohmann::json::parse(registered.body)["task_id"].get<std::string>();
  auto key = nlohmann::json::parse(registered.body)["peer_key"].get<std::string>();
  std::atomic<bool> done{false};
  std::thread alive([&] {
    for (int i = 0; i < 240 && !done; ++i) {
      post_json(successor, "/api/v1/tasks/" + task_id + "/peers/late-holder/sync",
                R"({"want": 0, "wait_ms": 0})", "X-Damselfly-Peer-Key: " + key + "\r\n");
      std::this_thread::sleep_for(500ms);
    }
  });
  auto client = daemons_[0]->start_client(url, out(0));
  auto status = client->wait(60s);
  done = true;
  alive.join();
  ASSERT_TRUE(status) << "the download stalled on pieces whose digests never came\n"
                      << fleet_trail();
  EXPECT_EQ(*status, 0) << client->output();
  EXPECT_EQ(sha256_file(out(0)), sha256_file(dir_ / "www" / "pkg"));
  EXPECT_EQ(metric(supernodes_[order[1]]->metrics(), "damselfly_supernode_takeovers_total"), 1);
  // Pieces 0 and 1 nobody held, 2 and 3 nobody could vouch for: each once
  // from the origin, besides one-byte requests (this test's for the
  // validators; the successor's layout probe, once per pass: a second pass
  // when the node registered after the first had begun).
  auto sent = origin_->body_bytes() - before;
  EXPECT_GE(sent, 4 * mib + 2);
  EXPECT_LE(sent, 4 * mib + 3);
}

TEST_F(fleet_test, AFileOfMorePiecesThanOneReplicaMessageCarriesIsReplicatedWhole) {
  // 4608 pieces of 16 KiB: the owner sends its digests in runs of at most
  // 4096, so the successor gets them in two messages or more.
  constexpr std::uint64_t pieces = 4608;
  make_file(dir_ / "www" / "big", pieces * 16 * 1024, 96);
  start(2, "1G", "1G", {"--piece-size", "16K"});
  auto url = origin_->url("big");
  auto order = order_of(url);
  auto first = daemons_[0]->start_client(url, out(0));
  auto status = first->wait(120s);
  ASSERT_TRUE(status && *status == 0) << first->output();
  double held = 0;
  for (int i = 0; i < 100 && held != pieces; ++i) {
    held = metric(supernodes_[order[1]]->metrics(), "damselfly_supernode_replica_digests");
    if (held != pieces) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(held, pieces) << "the successor's replica lacks digests";
  // With the owner gone the successor serves the second node from the
  // first one's copy: every digest known, nothing asked of the origin but
  // the layout (a one-byte probe).
  supernodes_[order[0]]->kill();
  auto before = origin_->body_bytes();
  auto second = daemons_[1]->start_client(url, out(1));
  status = second->wait(120s);
  ASSERT_TRUE(status && *status == 0) << second->output() << fleet_trail();
  EXPECT_EQ(sha256_file(out(1)), sha256_file(dir_ / "www" / "big"));
  EXPECT_EQ(metric(supernodes_[order[1]]->metrics(), "damselfly_supernode_takeovers_total"), 1);
  EXPECT_LE(origin_->body_bytes() - before, 1u) << fleet_trail();
}

TEST_F(fleet_test, AnOwnerStoppedForGoodIsWaitedForAWhileThenReplaced) {
  // SIGTERM without a restart (a supernode taken out of the fleet): its last
  // replicas say it is stopping, the successor waits for it to come back
  // (owner_restart_wait, 10 s), then fetches what its peers lack.
  make_file(dir_ / "www" / "release.bin", 24 * mib, 97);
  start(4, "4M", "2M");
  auto url = origin_->url("release.bin");
  auto order = order_of(url);
  auto clients = start_clients(url);
  wait_until_nodes_got_from_supernodes(4 * mib);
  auto stopped_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(supernodes_[order[0]]->stop());
  expect_all_correct(clients, dir_ / "www" / "release.bin");
  EXPECT_EQ(metric(supernodes_[order[1]]->metrics(), "damselfly_supernode_takeovers_total"), 1);
  // The origin's copy did not all reach the peers before the stop: the
  // successor had to fetch the rest, and did so only after the wait.
  EXPECT_GE(std::chrono::steady_clock::now() - stopped_at, 10s) << fleet_trail();
  EXPECT_LE(static_cast<double>(origin_->body_bytes()), 2.05 * 24 * mib);
}

TEST_F(fleet_test, ARollingRestartOfAllThreeDuringATransferLosesNothing) {
  make_file(dir_ / "www" / "release.bin", 48 * mib, 94);
  start(10, "16M", "4M");
  auto url = origin_->url("release.bin");
  auto order = order_of(url);
  auto clients = start_clients(url);
  wait_until_every_piece_has_a_holder(url, order[0], 48);
  // Owner first, then the others, each back before the next goes: SIGTERM
  // (the last replicas go out), the same data dir and port again.
  for (auto s : order) {
    supernodes_[s]->restart();
    std::this_thread::sleep_for(2s);
  }
  expect_all_correct(clients, dir_ / "www" / "release.bin");
  auto origin_ratio = static_cast<double>(origin_->body_bytes()) / (48.0 * mib);
  std::printf("rolling restart: origin sent %.3fx the file\n", origin_ratio);
  EXPECT_LE(origin_ratio, 1.05) << fleet_trail();
}
