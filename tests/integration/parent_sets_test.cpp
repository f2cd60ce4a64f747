// SPDX-License-Identifier: Apache-2.0
// The parent-set protocol at a real supernode: parents, pieces injected once, signed digests.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "damselfly/common/digest.hpp"
#include "damselfly/common/ticket_verifier.hpp"
#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/test_peer.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// A supernode scheduling with 2 parents per peer, holding one file of 4
/// pieces of 256 KiB; peers registered by hand.
class parent_sets_test : public workspace_test {
 protected:
  parent_sets_test() : workspace_test("damselfly-parents") {}
  void SetUp() override {
    make_file(dir_ / "www" / "f.bin", 1 << 20, 9);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    supernode_ = std::make_unique<supernode_server>(
        dir_ / "cache", dir_ / "logs",
        std::vector<std::string>{"--piece-size", "256K", "--parents", "2"});
  }
  void TearDown() override { expect_no_sanitizer_report(supernode_->log()); }

  /// Registers `peer`, serving at 127.0.0.1:`port` (0: serving nothing, as
  /// a standalone client); waits for the whole file
  /// to be cached. Returns the registration answer.
  json join(const std::string& peer, int port) {
    json r{{"url", origin_->url("f.bin")}, {"peer_id", peer}};
    if (port > 0) r["upload_addr"] = "127.0.0.1:" + std::to_string(port);
    auto answer = post_json(supernode_->port(), "/api/v1/tasks", r.dump());
    EXPECT_EQ(answer.status, 200) << answer.body;
    auto j = json::parse(answer.body);
    task_id_ = j.at("task_id").get<std::string>();
    keys_[peer] = j.at("peer_key").get<std::string>();
    std::string state = j.value("state", "");
    for (int i = 0; i < 200 && state != "done"; ++i) {
      std::this_thread::sleep_for(50ms);
      state = json::parse(http_get(supernode_->port(), "/api/v1/tasks/" + task_id_).body)
                  .value("state", "");
    }
    EXPECT_EQ(state, "done");
    return j;
  }
  raw_response sync(const std::string& peer, const json& body) {
    return post_json(supernode_->port(), "/api/v1/tasks/" + task_id_ + "/peers/" + peer + "/sync",
                     body.dump(), "X-Damselfly-Peer-Key: " + keys_[peer] + "\r\n");
  }
  static json asks(unsigned want) {
    return {{"want", want},
            {"wait_ms", 0},
            {"compact", true},
            {"report_digests", true},
            {"parents", true}};
  }
  static std::vector<std::uint64_t> pieces_of(const json& answer) {
    std::vector<std::uint64_t> out;
    for (const auto& p : answer.value("pieces", json::array())) out.push_back(p.at(0));
    return out;
  }

  std::unique_ptr<origin_server> origin_;
  std::unique_ptr<supernode_server> supernode_;
  std::string task_id_;
  std::map<std::string, std::string> keys_;
};

}  // namespace

TEST_F(parent_sets_test, EachPieceLeavesTheSupernodeOnceAndPeersAreGivenParents) {
  join("A", 20001);
  join("B", 20002);
  join("C", 20003);
  // A asks for 2: pieces 0 and 1 from the supernode, and two parents.
  auto a = sync("A", asks(2));
  ASSERT_EQ(a.status, 200) << a.body;
  auto ja = json::parse(a.body);
  EXPECT_TRUE(ja.value("parent_sets", false)) << a.body;
  EXPECT_EQ(pieces_of(ja), (std::vector<std::uint64_t>{0, 1})) << a.body;
  EXPECT_EQ(ja.at("sources"), json::array({"supernode"}));
  EXPECT_EQ(ja.at("pieces")[0].size(), 2u) << "no digest on the supernode's link: " << a.body;
  auto parents = ja.at("parents").get<std::vector<std::string>>();
  std::sort(parents.begin(), parents.end());
  EXPECT_EQ(parents, (std::vector<std::string>{"127.0.0.1:20002", "127.0.0.1:20003"}));
  // B asks for 4: only 2 and 3 are new. C asks: nothing is new, so nothing
  // from the supernode — no second copy — but it has parents.
  EXPECT_EQ(pieces_of(json::parse(sync("B", asks(4)).body)), (std::vector<std::uint64_t>{2, 3}));
  auto c = sync("C", asks(4));
  ASSERT_EQ(c.status, 200) << c.body;
  auto jc = json::parse(c.body);
  EXPECT_TRUE(pieces_of(jc).empty()) << c.body;
  EXPECT_EQ(jc.at("parents").size(), 2u) << c.body;
  // Asked again, C gets no parents twice (and no answer worth a body).
  auto again = asks(4);
  again["known_state"] = "done";
  again["version"] = jc.at("task").value("version", "");
  auto ticket = jc.value("ticket", "");
  again["ticket_tail"] = ticket.substr(ticket.size() - 16);
  auto c2 = sync("C", again);
  ASSERT_TRUE(c2.status == 200 || c2.status == 204) << c2.head << c2.body;
  if (c2.status == 200) {
    EXPECT_FALSE(json::parse(c2.body).contains("parents")) << c2.body;
    EXPECT_TRUE(pieces_of(json::parse(c2.body)).empty()) << c2.body;
  }
  // A loses piece 1 (its fetch failed): nobody has it, so it is new again.
  json report = asks(4);
  report["results"] =
      json::array({{{"piece", 1}, {"status", "unreachable"}, {"source", "supernode"}}});
  EXPECT_EQ(pieces_of(json::parse(sync("A", report).body)), (std::vector<std::uint64_t>{1}));
}

TEST_F(parent_sets_test, APeerThatDoesNotSpeakItIsScheduledCentrally) {
  join("A", 20001);
  join("OLD", 20009);
  EXPECT_EQ(pieces_of(json::parse(sync("A", asks(4)).body)),
            (std::vector<std::uint64_t>{0, 1, 2, 3}));
  // An older peer: full central scheduling (pieces already out are its to
  // fetch too), no parents.
  auto old = sync("OLD", json{{"want", 4}, {"wait_ms", 0}, {"compact", true}});
  ASSERT_EQ(old.status, 200) << old.body;
  auto j = json::parse(old.body);
  EXPECT_FALSE(j.contains("parents")) << old.body;
  EXPECT_FALSE(j.value("parent_sets", false)) << old.body;
  EXPECT_FALSE(pieces_of(j).empty()) << old.body;
}

TEST_F(parent_sets_test, APeerThatServesNothingIsScheduledCentrally) {
  // A standalone client speaks the protocol but serves nobody: a piece
  // injected into it would reach no one else and never be sent again (a
  // crowd of twenty such clients waited for pieces until their tries ran
  // out). It is scheduled centrally, and takes what a serving peer holds.
  join("A", 20001);
  join("CLIENT", 0);
  EXPECT_EQ(pieces_of(json::parse(sync("A", asks(4)).body)),
            (std::vector<std::uint64_t>{0, 1, 2, 3}));
  auto client = sync("CLIENT", asks(4));
  ASSERT_EQ(client.status, 200) << client.body;
  auto j = json::parse(client.body);
  EXPECT_FALSE(j.value("parent_sets", false)) << client.body;
  EXPECT_FALSE(j.contains("parents")) << client.body;
  EXPECT_FALSE(pieces_of(j).empty()) << "every piece is already out to A: " << client.body;
}

TEST_F(parent_sets_test, APieceFromTheSupernodeComesWithItsSignedDigestWhenAsked) {
  auto reg = join("A", 20001);
  auto a = json::parse(sync("A", asks(1)).body);
  ASSERT_EQ(pieces_of(a), (std::vector<std::uint64_t>{0}));
  const auto ticket = a.at("ticket").get<std::string>();
  auto get = [&](const std::string& range, bool want_signed) {
    std::string extra =
        "X-Damselfly-Peer: A\r\nX-Damselfly-Ticket: " + ticket + "\r\nRange: " + range + "\r\n";
    if (want_signed) extra += "X-Damselfly-Want-Signed-Digest: 1\r\n";
    return http_get(supernode_->port(), "/pieces/" + task_id_, extra);
  };
  auto verifier =
      damselfly::ticket_verifier::from_public_key(reg.at("ticket_key").get<std::string>());
  ASSERT_TRUE(verifier);
  auto piece = get("bytes=0-262143", true);
  ASSERT_EQ(piece.status, 206) << piece.head;
  auto signed_digest = piece.header("X-Damselfly-Signed-Digest");
  auto vouched =
      verifier->check_digest(signed_digest, task_id_, a.at("task").value("version", ""), 0);
  ASSERT_TRUE(vouched) << signed_digest;
  damselfly::digest d(damselfly::digest_algo::sha256);
  d.update(piece.body);
  EXPECT_EQ(*vouched, d.finish());
  // Not asked, or not exactly one piece: no signature.
  EXPECT_EQ(get("bytes=0-262143", false).header("X-Damselfly-Signed-Digest"), "");
  EXPECT_EQ(get("bytes=0-1000", true).header("X-Damselfly-Signed-Digest"), "");
}

TEST_F(parent_sets_test, ADaemonServesThreeChildrenAtOnceAndCentrallyScheduledPeersInTheRest) {
  // A daemon holds a 32 MiB file. Three children of the parent-set protocol
  // ask for all of it and read nothing: their uploads hold the child slots
  // (3 of 6). A fourth child is told busy; a centrally scheduled peer (no
  // signed digest wanted) is still served.
  make_file(dir_ / "www" / "big.bin", 32 << 20, 5);
  daemon_server node(2, supernode_->address(), dir_.path());
  auto client = node.start_client(origin_->url("big.bin"), dir_ / "out" / "big.bin");
  ASSERT_EQ(client->wait(120s), std::optional<int>(0)) << client->output();
  test_peer c(supernode_->port(), json{{"url", origin_->url("big.bin")}, {"peer_id", "C"}}.dump());
  ASSERT_TRUE(c.ok());
  const std::string child_ask = "GET /pieces/" + c.task_id() +
                                " HTTP/1.1\r\nHost: x\r\nRange: bytes=0-33554431\r\n"
                                "X-Damselfly-Want-Signed-Digest: 1\r\n" +
                                c.piece_headers() + "\r\n";
  std::vector<std::unique_ptr<held_connection>> children;
  for (int i = 0; i < 3; ++i) {
    children.push_back(std::make_unique<held_connection>(node.port(), 4096, node.ip()));
    ASSERT_TRUE(children.back()->send(child_ask));
    EXPECT_NE(children.back()->read_some(5s).find("206"), std::string::npos);
  }
  auto piece = [&](bool child) {
    return http_get(node.port(), "/pieces/" + c.task_id(),
                    "Range: bytes=0-1023\r\n" + c.piece_headers() +
                        (child ? "X-Damselfly-Want-Signed-Digest: 1\r\n" : ""),
                    node.ip());
  };
  EXPECT_EQ(piece(true).status, 503);
  EXPECT_EQ(piece(false).status, 206);
  // One child gone, its slot is free for the next.
  children.pop_back();
  int status = 0;
  for (int i = 0; i < 100 && status != 206; ++i) {
    status = piece(true).status;
    if (status != 206) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 206);
  EXPECT_GE(metric(node.metrics(), "damselfly_daemon_uploads_refused_total"), 1) << node.metrics();
}
