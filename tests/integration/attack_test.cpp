// SPDX-License-Identifier: Apache-2.0
// Attacks on the supernode's API, written as the attack: raw requests with lying numbers.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// A supernode holding one small file (4 pieces of 256 KiB), and an attacker
/// registered for it as a peer.
class supernode_attack_test : public workspace_test {
 protected:
  supernode_attack_test() : workspace_test("damselfly-attack") {}
  void SetUp() override {
    make_file(dir_ / "www" / "f.bin", 1 << 20, 5);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    supernode_ = std::make_unique<supernode_server>(
        dir_ / "cache", dir_ / "logs", std::vector<std::string>{"--piece-size", "256K"});
    auto answer = post("/api/v1/tasks", register_body(""));
    ASSERT_EQ(answer.status, 200) << answer.body;
    task_id_ = json::parse(answer.body).at("task_id").get<std::string>();
  }
  void TearDown() override { expect_no_sanitizer_report(supernode_->log()); }

  std::string register_body(const std::string& bitmap) const {
    json r{{"url", origin_->url("f.bin")}, {"peer_id", "attacker"}};
    if (!bitmap.empty()) r["bitmap"] = bitmap;
    return r.dump();
  }
  raw_response post(const std::string& target, const std::string& body) const {
    return raw_http(supernode_->port(), "POST " + target +
                                            " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                            "Content-Type: application/json\r\nContent-Length: " +
                                            std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  raw_response sync_reporting(const std::string& piece) const {
    std::string body = R"({"results": [{"piece": )" + piece +
                       R"(, "status": "ok", "source": "supernode"}], "want": 0})";
    return post("/api/v1/tasks/" + task_id_ + "/peers/attacker/sync", body);
  }
  /// The supernode still answers, and is no bigger than a small process.
  void expect_alive_and_small() const {
    EXPECT_TRUE(supernode_->running());
    EXPECT_EQ(http_get(supernode_->port(), "/healthz").status, 200);
    EXPECT_LT(supernode_->rss(), 96u << 20) << "RSS grew from a number in a request";
  }

  std::unique_ptr<origin_server> origin_;
  std::unique_ptr<supernode_server> supernode_;
  std::string task_id_;
};

std::string field_of(const raw_response& r) {
  return json::parse(r.body).at("error").value("field", "");
}

}  // namespace

TEST_F(supernode_attack_test, SyncReportingPieceTwoToTheSixtyFourMinusOneIsRefused) {
  auto r = sync_reporting("18446744073709551615");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field_of(r), "results[0].piece");
  expect_alive_and_small();
}

TEST_F(supernode_attack_test, SyncReportingPiece33554432IsRefusedWithoutGrowing) {
  for (int i = 0; i < 20; ++i) {
    auto r = sync_reporting("33554432");
    ASSERT_EQ(r.status, 400) << r.body;
  }
  expect_alive_and_small();
}

TEST_F(supernode_attack_test, RegistrationClaimingMorePiecesThanTheFileHasIsRefused) {
  auto r = post("/api/v1/tasks", register_body(std::string(500000, '1')));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field_of(r), "bitmap");
  // An honest bitmap of the real size is taken.
  EXPECT_EQ(post("/api/v1/tasks", register_body("1100")).status, 200);
  expect_alive_and_small();
}
