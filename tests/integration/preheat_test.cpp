// SPDX-License-Identifier: Apache-2.0
// Preheat jobs on the supernode: the admin token, the cache filled once, failures, cancel, restart.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* cluster_token = "c1a55e7c0ffee0ddba11f00dfeedbeef";
constexpr const char* admin_token = "ad41e7a1b2c3d4e5f60718293a4b5c6d";
constexpr std::uint64_t size = 8u << 20;

/// An origin, and a supernode with a cluster token and an admin token.
class preheat_test : public workspace_test {
 protected:
  preheat_test() : workspace_test("damselfly-preheat") {
    make_file(dir_ / "www" / "pkg.deb", size, 5);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    cluster_file_ = write_secret(dir_ / "cluster.token", cluster_token);
    admin_file_ = write_secret(dir_ / "admin.token", admin_token);
    supernode_ = std::make_unique<supernode_server>(
        dir_ / "cache", dir_ / "logs",
        std::vector<std::string>{"--token-file", cluster_file_.string(), "--admin-token-file",
                                 admin_file_.string(), "--piece-size", "1M"});
  }
  void TearDown() override { expect_no_sanitizer_report(supernode_->log()); }
  static std::string auth(const char* token) { return bearer_header(token); }
  raw_response create(const std::string& url, const std::string& authorization) {
    return post_json(supernode_->port(), "/api/v1/jobs", json{{"url", url}}.dump(), authorization);
  }
  json job(const std::string& id) {
    auto r = http_get(supernode_->port(), "/api/v1/jobs/" + id, auth(admin_token));
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  /// Polls the job until it has ended (at most `limit`); its last status.
  json wait_end(const std::string& id, std::chrono::seconds limit = 60s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    json j = job(id);
    while (j.value("state", "") != "done" && j.value("state", "") != "failed" &&
           j.value("state", "") != "cancelled" && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(200ms);
      j = job(id);
    }
    return j;
  }
  run_result preheat(const std::vector<std::string>& more) {
    std::vector<std::string> args{"preheat",
                                  origin_->url("pkg.deb"),
                                  "--supernode",
                                  supernode_->address(),
                                  "--admin-token-file",
                                  admin_file_.string()};
    args.insert(args.end(), more.begin(), more.end());
    return run_dfget(args, dir_.path(), 90s);
  }

  std::unique_ptr<origin_server> origin_;
  fs::path cluster_file_, admin_file_;
  std::unique_ptr<supernode_server> supernode_;
};

}  // namespace

TEST_F(preheat_test, AttackWithoutTheAdminTokenNobodyOrdersAJob) {
  // Nothing, a wrong token, and the cluster token every node holds: 401.
  for (const auto& authorization :
       {std::string(), auth("not-the-admin-token-at-all"), auth(cluster_token)}) {
    auto r = create(origin_->url("pkg.deb"), authorization);
    EXPECT_EQ(r.status, 401) << authorization << r.body;
    EXPECT_EQ(http_get(supernode_->port(), "/api/v1/jobs", authorization).status, 401);
  }
  // And the admin token opens nothing but the jobs: the task API wants the cluster's.
  EXPECT_EQ(http_get(supernode_->port(), "/api/v1/tasks/" + std::string(64, 'a'), auth(admin_token))
                .status,
            401);
  EXPECT_EQ(origin_->body_bytes(), 0u);
}

TEST_F(preheat_test, ASupernodeWithoutAnAdminTokenHasNoJobs) {
  supernode_server plain(dir_ / "cache2", dir_ / "logs",
                         std::vector<std::string>{"--token-file", cluster_file_.string()});
  auto r = post_json(plain.port(), "/api/v1/jobs", json{{"url", origin_->url("pkg.deb")}}.dump(),
                     auth(cluster_token));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("admin"), std::string::npos) << r.body;
}

TEST_F(preheat_test, DfgetPreheatWaitFillsTheCacheOnceAndLaterDownloadsCostTheOriginNothing) {
  auto r = preheat({"--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("done"), std::string::npos) << r.output;
  // The file once, and the supernode's one-byte probe.
  const auto sent = origin_->body_bytes();
  EXPECT_GE(sent, size);
  EXPECT_LE(sent, size + 1);
  // The job, as the API shows it.
  auto list = json::parse(http_get(supernode_->port(), "/api/v1/jobs", auth(admin_token)).body);
  ASSERT_EQ(list["jobs"].size(), 1u);
  auto j = list["jobs"][0];
  EXPECT_EQ(j["state"], "done");
  EXPECT_EQ(j["hosts_total"], 1);
  EXPECT_EQ(j["hosts_done"], 1);
  EXPECT_EQ(j["bytes"], size);
  EXPECT_EQ(j["content_length"], size);
  // A node asking now is served from the cache: the origin sends nothing more.
  auto out = dir_ / "pkg.deb";
  auto got = run_dfget({origin_->url("pkg.deb"), "-O", out.string(), "--standalone", "--supernode",
                        supernode_->address(), "--token-file", cluster_file_.string()},
                       dir_.path());
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(sha256_file(out), sha256_file(dir_ / "www" / "pkg.deb"));
  EXPECT_EQ(origin_->body_bytes(), sent);
}

TEST_F(preheat_test, AJobWhoseOriginAnswers404FailsWithTheReasonAndDfgetSaysWhere) {
  auto r = run_dfget({"preheat", origin_->url("missing.deb"), "--supernode", supernode_->address(),
                      "--admin-token-file", admin_file_.string(), "--wait"},
                     dir_.path(), 90s);
  EXPECT_EQ(r.exit_code, 4) << r.output;  // the origin's fault
  EXPECT_NE(r.output.find("failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("404"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("supernode"), std::string::npos) << r.output;
  auto list = json::parse(http_get(supernode_->port(), "/api/v1/jobs", auth(admin_token)).body);
  ASSERT_EQ(list["jobs"].size(), 1u);
  EXPECT_EQ(list["jobs"][0]["state"], "failed");
  EXPECT_EQ(list["jobs"][0]["hosts"][0]["state"], "failed");
  EXPECT_FALSE(list["jobs"][0]["hosts"][0].value("error", "").empty());
}

TEST_F(preheat_test, BadJobsAreRefusedWithTheFieldAndDfgetExitsTwo) {
  auto r = post_json(supernode_->port(), "/api/v1/jobs", json{{"url", "ftp://x/y"}}.dump(),
                     auth(admin_token));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("url"), std::string::npos) << r.body;
  r = post_json(supernode_->port(), "/api/v1/jobs",
                json{{"url", origin_->url("pkg.deb")}, {"type", "purge"}}.dump(),
                auth(admin_token));
  EXPECT_EQ(r.status, 400) << r.body;
  auto cli = preheat({"--digest", "sha256:nothex"});
  EXPECT_EQ(cli.exit_code, 2) << cli.output;
  EXPECT_EQ(origin_->body_bytes(), 0u);
}

TEST_F(preheat_test, ACancelledJobEndsCancelledAndAnUnknownOneIs404) {
  // A slow origin keeps the job running while it is cancelled.
  auto made = create(origin_->url("pkg.deb", "slow=262144"), auth(admin_token));
  ASSERT_EQ(made.status, 201) << made.body;
  auto id = json::parse(made.body)["id"].get<std::string>();
  EXPECT_EQ(job(id)["state"], "running");
  auto del = raw_http(supernode_->port(), "DELETE /api/v1/jobs/" + id +
                                              " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                                              auth(admin_token) + "\r\n");
  EXPECT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(job(id)["state"], "cancelled");
  EXPECT_NE(job(id)["finished"], 0);
  EXPECT_EQ(http_get(supernode_->port(), "/api/v1/jobs/0123456789abcdef", auth(admin_token)).status,
            404);
}

TEST_F(preheat_test, AJobSurvivesASupernodeRestartAndEndsDone) {
  auto made = create(origin_->url("pkg.deb", "slow=524288"), auth(admin_token));
  ASSERT_EQ(made.status, 201) << made.body;
  auto id = json::parse(made.body)["id"].get<std::string>();
  std::this_thread::sleep_for(1s);
  ASSERT_EQ(job(id)["state"], "running");
  supernode_->restart();
  auto j = wait_end(id);
  EXPECT_EQ(j["state"], "done") << j.dump();
  EXPECT_EQ(j["bytes"], size);
}

TEST_F(preheat_test, TheClusterTokenCannotDoubleAsTheAdminToken) {
  auto r =
      run({supernode_binary(), "--listen", "127.0.0.1:0", "--data-dir", (dir_ / "same").string(),
           "--token-file", cluster_file_.string(), "--admin-token-file", cluster_file_.string()},
          10s, dir_ / "logs" / "same.log");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("admin token a file of its own"), std::string::npos) << r.output;
}

namespace {

/// The preheat setup plus ten daemons, five in IDC "east" and five in "west".
class all_peers_test : public preheat_test {
 protected:
  void SetUp() override {
    make_file(dir_ / "www" / "big.deb", big, 6);
    for (int i = 0; i < 10; ++i)
      daemons_.push_back(std::make_unique<daemon_server>(
          2 + i, supernode_->address(), dir_.path(),
          std::vector<std::string>{"--token-file", cluster_file_.string(), "--idc",
                                   i < 5 ? "east" : "west"}));
  }
  void TearDown() override {
    preheat_test::TearDown();
    for (const auto& d : daemons_) expect_no_sanitizer_report(d->log());
  }
  /// Creates the job once every daemon has told the supernode it is there
  /// (their first heartbeats): retried while fewer hosts match, at most 30 s.
  json create_job(json body, std::size_t want_hosts) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      auto r = post_json(supernode_->port(), "/api/v1/jobs", body.dump(), auth(admin_token));
      if (r.status == 201) {
        auto j = json::parse(r.body);
        if (j["hosts_total"] == want_hosts || std::chrono::steady_clock::now() > deadline) return j;
        // Too early: some daemons were not known yet. Cancel, try again.
        raw_http(supernode_->port(), "DELETE /api/v1/jobs/" + j["id"].get<std::string>() +
                                         " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                                         auth(admin_token) + "\r\n");
      } else if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << r.status << " " << r.body;
        return json::object();
      }
      std::this_thread::sleep_for(300ms);
    }
  }
  /// Whether daemon `i` holds a complete file of `bytes` in its cache.
  bool holds(std::size_t i, std::uint64_t bytes) const {
    std::error_code ec;
    for (const auto& t : fs::directory_iterator(daemons_[i]->data_dir() / "tasks", ec)) {
      auto meta = read_text(t.path() / "meta.json");
      if (meta.find("\"complete\":true") != std::string::npos &&
          fs::file_size(t.path() / "data", ec) == bytes)
        return true;
    }
    return false;
  }
  static constexpr std::uint64_t big = 32u << 20;
  std::vector<std::unique_ptr<daemon_server>> daemons_;
};

}  // namespace

TEST_F(all_peers_test, EveryDaemonGetsTheFileTheOriginSendsItOnceAndLaterDownloadsAreLocal) {
  auto j = create_job({{"url", origin_->url("big.deb")}, {"scope", "all_peers"}}, 10);
  ASSERT_EQ(j.value("hosts_total", 0), 10) << j.dump();
  auto done = wait_end(j["id"], 120s);
  EXPECT_EQ(done["state"], "done") << done.dump();
  EXPECT_EQ(done["hosts_done"], 10);
  for (std::size_t i = 0; i < daemons_.size(); ++i) EXPECT_TRUE(holds(i, big)) << "daemon " << i;
  auto sent = origin_->body_bytes();
  EXPECT_LE(static_cast<double>(sent), 1.02 * big) << sent;
  // A node's dfget now: its daemon has it, nothing moves over the network.
  auto before = daemons_[3]->metrics();
  auto client = daemons_[3]->start_client(origin_->url("big.deb"), dir_ / "node3.deb");
  ASSERT_EQ(client->wait(60s), std::optional<int>(0)) << client->output();
  EXPECT_EQ(sha256_file(dir_ / "node3.deb"), sha256_file(dir_ / "www" / "big.deb"));
  for (const char* from : {"supernode", "peer", "origin"}) {
    auto series = std::string(R"(damselfly_daemon_download_bytes_total{from=")") + from + "\"}";
    EXPECT_EQ(metric(daemons_[3]->metrics(), series), metric(before, series)) << from;
  }
  EXPECT_EQ(origin_->body_bytes(), sent);
}

TEST_F(all_peers_test, AJobNarrowedToOneIdcReachesExactlyThatIdc) {
  auto j =
      create_job({{"url", origin_->url("big.deb")}, {"scope", "all_peers"}, {"idc", "west"}}, 5);
  ASSERT_EQ(j.value("hosts_total", 0), 5) << j.dump();
  auto done = wait_end(j["id"], 120s);
  EXPECT_EQ(done["state"], "done") << done.dump();
  for (std::size_t i = 0; i < daemons_.size(); ++i)
    EXPECT_EQ(holds(i, big), i >= 5) << "daemon " << i;
}

TEST_F(all_peers_test, DfgetPreheatWaitListsTheHostsThatFailed) {
  // Once the supernode knows all five (their first heartbeats come at start).
  auto known =
      create_job({{"url", origin_->url("big.deb")}, {"scope", "all_peers"}, {"idc", "east"}}, 5);
  ASSERT_EQ(known.value("hosts_total", 0), 5) << known.dump();
  auto r = run_dfget({"preheat", origin_->url("gone.deb"), "--supernode", supernode_->address(),
                      "--admin-token-file", admin_file_.string(), "--scope", "all_peers", "--idc",
                      "east", "--wait", "--timeout", "90s"},
                     dir_.path(), 120s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("404"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("5 hosts"), std::string::npos) << r.output;
}

TEST_F(all_peers_test, ADaemonThatJoinsDuringARunningJobGetsItToo) {
  // A slow origin keeps the job running while an eleventh node comes up.
  make_file(dir_ / "www" / "slow.deb", 8u << 20, 8);
  auto j = create_job(
      {{"url", origin_->url("slow.deb", "slow=1048576")}, {"scope", "all_peers"}, {"idc", "west"}},
      5);
  ASSERT_EQ(j.value("hosts_total", 0), 5) << j.dump();
  daemons_.push_back(std::make_unique<daemon_server>(
      12, supernode_->address(), dir_.path(),
      std::vector<std::string>{"--token-file", cluster_file_.string(), "--idc", "west"}));
  auto done = wait_end(j["id"], 120s);
  EXPECT_EQ(done["state"], "done") << done.dump();
  EXPECT_EQ(done["hosts_total"], 6) << done.dump();
  EXPECT_TRUE(holds(10, 8u << 20));
}

TEST_F(all_peers_test, ASupernodeRestartedDuringAnAllPeersJobFinishesIt) {
  make_file(dir_ / "www" / "slow.deb", 8u << 20, 9);
  auto j = create_job(
      {{"url", origin_->url("slow.deb", "slow=262144")}, {"scope", "all_peers"}, {"idc", "east"}},
      5);
  ASSERT_EQ(j.value("hosts_total", 0), 5) << j.dump();
  std::this_thread::sleep_for(4s);  // the daemons have it (heartbeats every 3 s) and are fetching
  auto before = job(j["id"]);
  ASSERT_EQ(before["state"], "running") << before.dump();
  ASSERT_LT(before["hosts_done"], 5) << before.dump();
  supernode_->restart();
  auto done = wait_end(j["id"], 120s);
  EXPECT_EQ(done["state"], "done") << done.dump();
  EXPECT_EQ(done["hosts_done"], 5) << done.dump();
  for (std::size_t i = 0; i < 5; ++i) EXPECT_TRUE(holds(i, 8u << 20)) << "daemon " << i;
}

TEST_F(all_peers_test, AttackAForgedDoneReportForAnotherHostIsNotBelieved) {
  // A job for one host, on a slow origin, so it is still running when a
  // cluster-token holder heartbeats in that host's name saying it is done.
  auto hosts = json::parse(http_get(supernode_->port(), "/api/v1/hosts", auth(admin_token)).body);
  ASSERT_FALSE(hosts["hosts"].empty()) << hosts.dump();
  auto victim = hosts["hosts"][0]["host"].get<std::string>();
  auto victim_addr = hosts["hosts"][0]["upload_addr"].get<std::string>();
  std::size_t victim_index = daemons_.size();
  for (std::size_t i = 0; i < daemons_.size(); ++i)
    if (victim_addr == daemons_[i]->ip() + ":" + std::to_string(daemons_[i]->port()))
      victim_index = i;
  ASSERT_LT(victim_index, daemons_.size()) << victim_addr;
  auto j = create_job({{"url", origin_->url("pkg.deb", "slow=262144")},
                       {"scope", "all_peers"},
                       {"hosts", json::array({victim})}},
                      1);
  ASSERT_EQ(j.value("hosts_total", 0), 1) << j.dump();
  auto id = j["id"].get<std::string>();
  auto task = job(id)["task_id"].get<std::string>();
  auto forge = [&](const std::string& host_key) {
    json forged{{"upload_addr", "127.0.0.99:1"},
                {"idc", "elsewhere"},
                {"tasks", json::array({task})},
                {"peer_keys", {{task, std::string(32, 'f')}}},
                {"job_reports", json::array({{{"id", id}, {"state", "done"}, {"bytes", size}}})}};
    if (!host_key.empty()) forged["host_key"] = host_key;
    return post_json(supernode_->port(), "/api/v1/hosts/" + victim + "/heartbeat", forged.dump(),
                     auth(cluster_token));
  };
  // Without the host's key: refused, and the host's description stands.
  auto r = forge("");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("host_taken"), std::string::npos) << r.body;
  auto after = json::parse(http_get(supernode_->port(), "/api/v1/hosts", auth(admin_token)).body);
  for (const auto& h : after["hosts"])
    if (h["host"] == victim) {
      EXPECT_EQ(h["upload_addr"], victim_addr) << after.dump();
    }
  // Even with the host's key (taken from its disk), a "done" is believed
  // only with its peer key for the task and every piece with it in the swarm.
  auto keys = json::parse(read_text(daemons_[victim_index]->data_dir() / "host_keys.json"));
  ASSERT_EQ(keys.size(), 1u) << keys.dump();
  r = forge(keys.begin().value().get<std::string>());
  EXPECT_EQ(r.status, 200) << r.body;
  auto now = job(id);
  EXPECT_EQ(now["state"], "running") << now.dump();
  EXPECT_EQ(now["hosts"][0]["state"], "running") << now.dump();
  // The host itself finishes it, and is believed.
  auto done = wait_end(id, 120s);
  EXPECT_EQ(done["state"], "done") << done.dump();
}

TEST_F(all_peers_test, ARestartedDaemonGoesOnSpeakingForItsHost) {
  // Its key is on its disk: the restarted daemon's heartbeats are taken at
  // once, not refused as another daemon's until the old one's silence passed.
  auto& d = daemons_[0];
  auto keys_file = d->data_dir() / "host_keys.json";
  ASSERT_FALSE(wait_for_file(keys_file, 10s).empty());
  d->restart();
  std::this_thread::sleep_for(4s);  // past one heartbeat interval (3 s)
  EXPECT_EQ(d->log().find("host_taken"), std::string::npos) << d->log();
  auto hosts = json::parse(http_get(supernode_->port(), "/api/v1/hosts", auth(admin_token)).body);
  std::size_t fresh = 0;
  for (const auto& h : hosts["hosts"]) fresh += h["last_seen_ms"].get<std::int64_t>() < 3500;
  EXPECT_EQ(fresh, daemons_.size()) << hosts.dump();
}
