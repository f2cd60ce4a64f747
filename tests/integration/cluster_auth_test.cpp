// SPDX-License-Identifier: Apache-2.0
// The cluster token, tried as a stranger on the network would and as the cluster's own nodes do.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/process.hpp"
#include "damselfly/test_support/test_peer.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* token = "6f1c0e0d4b8a4e7f9a3b2c1d0e9f8a7b";

/// An origin with one file, a token file, and a supernode started with it.
class cluster_auth_test : public workspace_test {
 protected:
  cluster_auth_test() : workspace_test("damselfly-auth") {
    make_file(dir_ / "www" / "f.bin", 3 << 20, 9);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    token_file_ =
        write_token("cluster.token", token, fs::perms::owner_read | fs::perms::owner_write);
    supernode_ = std::make_unique<supernode_server>(
        dir_ / "cache", dir_ / "logs",
        std::vector<std::string>{"--token-file", token_file_.string(), "--piece-size", "1M"});
  }
  void TearDown() override {
    expect_no_sanitizer_report(supernode_->log());
    for (const auto& d : daemons_) expect_no_sanitizer_report(d->log());
  }
  fs::path write_token(const std::string& name, const std::string& text, fs::perms perms) {
    auto path = dir_ / name;
    std::ofstream(path) << text << "\n";
    fs::permissions(path, perms);
    return path;
  }
  raw_response register_as(const std::string& authorization) {
    std::string body = json{{"url", origin_->url("f.bin")}, {"peer_id", "p"}}.dump();
    return raw_http(supernode_->port(),
                    "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                        authorization + "Content-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  std::unique_ptr<origin_server> origin_;
  fs::path token_file_;
  std::unique_ptr<supernode_server> supernode_;
  std::vector<std::unique_ptr<daemon_server>> daemons_;
};

}  // namespace

TEST_F(cluster_auth_test, AStrangerWithoutTheTokenCanNeitherRegisterNorReadPieces) {
  auto anonymous = register_as("");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_EQ(anonymous.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(register_as("Authorization: Bearer not-the-token-at-all\r\n").status, 401);
  EXPECT_EQ(register_as(std::string("Authorization: Basic ") + token + "\r\n").status, 401);
  EXPECT_EQ(origin_->requests(), 0u) << "a stranger's registration reached the origin";

  auto member = register_as(std::string("Authorization: Bearer ") + token + "\r\n");
  ASSERT_EQ(member.status, 200) << member.body;
  auto id = json::parse(member.body).at("task_id").get<std::string>();
  EXPECT_EQ(http_get(supernode_->port(), "/pieces/" + id, "Range: bytes=0-9\r\n").status, 401);
  EXPECT_EQ(http_get(supernode_->port(), "/api/v1/tasks/" + id).status, 401);
  // Health and metrics stay open for probes and Prometheus.
  EXPECT_EQ(http_get(supernode_->port(), "/healthz").status, 200);
  EXPECT_EQ(http_get(supernode_->port(), "/metrics").status, 200);
}

TEST_F(cluster_auth_test, NodesWithTheTokenDownloadAndStrangersGetAClearRefusal) {
  for (int i = 0; i < 2; ++i)
    daemons_.push_back(std::make_unique<daemon_server>(
        2 + i, supernode_->address(), dir_.path(),
        std::vector<std::string>{"--token-file", token_file_.string()}));
  auto want = sha256_file(dir_ / "www" / "f.bin");
  for (int i = 0; i < 2; ++i) {
    auto out = dir_ / "out" / ("node" + std::to_string(i));
    auto client = daemons_[i]->start_client(origin_->url("f.bin"), out);
    ASSERT_EQ(client->wait(120s), std::optional<int>(0)) << client->output();
    EXPECT_EQ(sha256_file(out), want);
  }
  // A daemon's pieces are the cluster's too.
  auto id = json::parse(register_as(std::string("Authorization: Bearer ") + token + "\r\n").body)
                .at("task_id")
                .get<std::string>();
  EXPECT_EQ(
      http_get(daemons_[0]->port(), "/pieces/" + id, "Range: bytes=0-9\r\n", daemons_[0]->ip())
          .status,
      401);

  auto standalone = dir_ / "out" / "standalone";
  auto ok = run_dfget({origin_->url("f.bin"), "-O", standalone.string(), "--standalone",
                       "--supernode", supernode_->address(), "--token-file", token_file_.string()},
                      dir_ / "logs");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(sha256_file(standalone), want);

  auto stranger = dir_ / "out" / "stranger";
  auto refused = run_dfget({origin_->url("f.bin"), "-O", stranger.string(), "--standalone",
                            "--supernode", supernode_->address(), "--no-back-source"},
                           dir_ / "logs");
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("401"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(stranger));
}

TEST_F(cluster_auth_test, TicketsOpenAPeersPiecesToTheTasksRegisteredPeersOnly) {
  make_file(dir_ / "www" / "g.bin", 1 << 20, 4);
  daemons_.push_back(std::make_unique<daemon_server>(
      2, supernode_->address(), dir_.path(),
      std::vector<std::string>{"--token-file", token_file_.string()}));
  auto& node = *daemons_[0];
  for (std::string name : {"f.bin", "g.bin"}) {
    auto client = node.start_client(origin_->url(name), dir_ / "out" / name);
    ASSERT_EQ(client->wait(120s), std::optional<int>(0)) << client->output();
  }
  const std::string auth = std::string("Authorization: Bearer ") + token + "\r\n";
  auto piece = [&](const std::string& task, const std::string& headers) {
    return http_get(node.port(), "/pieces/" + task, "Range: bytes=0-9\r\n" + auth + headers,
                    node.ip());
  };
  test_peer f_peer(supernode_->port(),
                   json{{"url", origin_->url("f.bin")}, {"peer_id", "f"}}.dump(), auth);
  test_peer g_peer(supernode_->port(),
                   json{{"url", origin_->url("g.bin")}, {"peer_id", "g"}}.dump(), auth);
  ASSERT_TRUE(f_peer.ok());
  ASSERT_TRUE(g_peer.ok());

  // Before: the cluster token alone read every piece any node held.
  auto stranger = piece(f_peer.task_id(), "X-Damselfly-Peer: f\r\n");
  EXPECT_EQ(stranger.status, 403) << stranger.body;
  EXPECT_NE(stranger.body.find("bad_ticket"), std::string::npos) << stranger.body;
  EXPECT_EQ(http_get(supernode_->port(), "/pieces/" + f_peer.task_id(),
                     "Range: bytes=0-9\r\n" + auth + "X-Damselfly-Peer: f\r\n")
                .status,
            403);
  // A registered peer's ticket opens its own task, at the node and the supernode ...
  auto own = piece(f_peer.task_id(), f_peer.piece_headers());
  EXPECT_EQ(own.status, 206) << own.body;
  EXPECT_EQ(own.body.size(), 10u);
  EXPECT_EQ(http_get(supernode_->port(), "/pieces/" + f_peer.task_id(),
                     "Range: bytes=0-9\r\n" + auth + f_peer.piece_headers())
                .status,
            206);
  // ... but not another task it did not register for ...
  EXPECT_EQ(piece(g_peer.task_id(), f_peer.piece_headers()).status, 403);
  EXPECT_EQ(piece(g_peer.task_id(), g_peer.piece_headers()).status, 206);
  // ... nor is it good for another peer id that borrows it.
  EXPECT_EQ(piece(f_peer.task_id(),
                  "X-Damselfly-Peer: g\r\nX-Damselfly-Ticket: " + f_peer.ticket() + "\r\n")
                .status,
            403);
  // A ticket is not the peer's key: shown to the supernode as the peer's
  // ticket it does not let another act as the peer (sync needs the key).
  auto as_f =
      post_json(supernode_->port(), "/api/v1/tasks/" + f_peer.task_id() + "/peers/f/sync",
                R"({"want":1})", auth + "X-Damselfly-Peer-Key: " + f_peer.ticket() + "\r\n");
  EXPECT_EQ(as_f.status, 403) << as_f.body;
}

TEST_F(cluster_auth_test, AReachableSupernodeWithoutATokenRefusesToStartAndSaysHow) {
  auto r =
      run({supernode_binary(), "--listen", "0.0.0.0:0", "--data-dir", (dir_ / "open").string()},
          10s, dir_ / "logs" / "open.log");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--token-file"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("openssl rand"), std::string::npos) << r.output;
}

TEST_F(cluster_auth_test, ATokenFileEveryoneCanReadOrTooShortIsRefused) {
  auto readable =
      write_token("readable.token", token,
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  auto short_one = write_token("short.token", "abc", fs::perms::owner_read);
  for (const auto& [file, says] : {std::pair{readable, std::string("readable by everyone")},
                                   std::pair{short_one, std::string("at least 16")},
                                   std::pair{dir_ / "missing.token", std::string("cannot read")}}) {
    auto r = run({supernode_binary(), "--listen", "127.0.0.1:0", "--data-dir",
                  (dir_ / "x").string(), "--token-file", file.string()},
                 10s, dir_ / "logs" / "refused.log");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
    auto d = run_dfget({origin_->url("f.bin"), "-O", (dir_ / "out" / "never").string(),
                        "--standalone", "--token-file", file.string()},
                       dir_ / "logs");
    EXPECT_EQ(d.exit_code, 2) << d.output;
    EXPECT_FALSE(fs::exists(dir_ / "out" / "never"));
  }
}
