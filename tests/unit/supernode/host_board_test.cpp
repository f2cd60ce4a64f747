// SPDX-License-Identifier: Apache-2.0
// The supernode's board of hosts: who said what, and whose bytes the piece reports move.
#include <gtest/gtest.h>

#include "damselfly/proto/messages.hpp"
#include "host_board.hpp"

using namespace damselfly::supernode;
using namespace std::chrono_literals;

namespace {
const auto t0 = host_board::clock::time_point{} + 1000s;
}

TEST(HostBoard, AHeartbeatDescribesTheHostAndItsLatestWordsWin) {
  host_board b;
  b.heard_from("a", "10.0.0.1:65001", "east", "eu|1", "10.0.0.1", t0);
  b.heard_from("a", "10.0.0.1:65002", "west", "eu|2", "", t0 + 1s);
  const auto* a = b.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->upload_addr, "10.0.0.1:65002");
  EXPECT_EQ(a->idc, "west");
  EXPECT_EQ(a->location, "eu|2");
  EXPECT_EQ(a->address, "10.0.0.1");  // an unknown address keeps the known one
  EXPECT_EQ(a->last_seen, t0 + 1s);
}

TEST(HostBoard, BGetsAPieceFromACountsBForDownloadAndAForUpload) {
  host_board b;
  b.heard_from("a", "10.0.0.1:65001", "", "", "10.0.0.1", t0);
  b.heard_from("b", "10.0.0.2:65001", "", "", "10.0.0.2", t0);
  b.piece_moved("b", "10.0.0.1:65001", 4 << 20, t0 + 1s);
  EXPECT_EQ(b.find("b")->downloaded, 4u << 20);
  EXPECT_EQ(b.find("a")->uploaded, 4u << 20);
  EXPECT_EQ(b.find("a")->downloaded, 0u);
  EXPECT_GT(b.find("a")->upload_rate.rate(t0 + 1s), 0u);
  // From the supernode: only the downloader's figure moves (the supernode
  // counts what it sends itself).
  b.piece_moved("a", std::string(damselfly::proto::supernode_source), 1 << 20, t0 + 2s);
  EXPECT_EQ(b.find("a")->downloaded, 1u << 20);
  EXPECT_EQ(b.find("b")->uploaded, 0u);
}

TEST(HostBoard, AnAddressTakenOverByAnotherHostCreditsTheNewHolder) {
  host_board b;
  b.heard_from("old", "10.0.0.1:65001", "", "", "", t0);
  b.heard_from("new", "10.0.0.1:65001", "", "", "", t0 + 1s);
  b.heard_from("c", "10.0.0.3:65001", "", "", "", t0 + 1s);
  b.piece_moved("c", "10.0.0.1:65001", 100, t0 + 2s);
  EXPECT_EQ(b.find("new")->uploaded, 100u);
  EXPECT_EQ(b.find("old")->uploaded, 0u);
  // The old host moving elsewhere does not take the address back from the new one.
  b.heard_from("old", "10.0.0.9:65001", "", "", "", t0 + 3s);
  b.piece_moved("c", "10.0.0.1:65001", 100, t0 + 3s);
  EXPECT_EQ(b.find("new")->uploaded, 200u);
}

TEST(HostBoard, ReportsNamingStrangersMoveNothing) {
  host_board b;
  b.heard_from("a", "10.0.0.1:65001", "", "", "", t0);
  b.piece_moved("nobody", "10.0.0.1:65001", 100, t0);  // the uploader is credited
  b.piece_moved("a", "10.9.9.9:1", 100, t0);           // an unknown source is not
  EXPECT_EQ(b.find("a")->uploaded, 100u);
  EXPECT_EQ(b.find("a")->downloaded, 100u);
  EXPECT_EQ(b.find("nobody"), nullptr);
  EXPECT_EQ(b.hosts().size(), 1u);
}

TEST(HostBoard, HostsNotHeardFromSinceTheCutoffAreForgottenWithTheirAddresses) {
  host_board b;
  b.heard_from("gone", "10.0.0.1:65001", "", "", "", t0);
  b.heard_from("here", "10.0.0.2:65001", "", "", "", t0 + 10s);
  b.seen("gone", t0 + 5s);  // a sync keeps it alive a little longer
  b.forget_before(t0 + 6s);
  EXPECT_EQ(b.find("gone"), nullptr);
  ASSERT_NE(b.find("here"), nullptr);
  b.piece_moved("here", "10.0.0.1:65001", 100, t0 + 11s);
  EXPECT_EQ(b.find("here")->downloaded, 100u);
  EXPECT_EQ(b.hosts().size(), 1u);
}

TEST(HostBoard, TheSupernodesOwnUploadIsCountedApart) {
  host_board b;
  b.supernode_sent(1000, t0);
  b.supernode_sent(1000, t0 + 500ms);
  EXPECT_EQ(b.supernode_uploaded(), 2000u);
  EXPECT_GT(b.supernode_rate(t0 + 1s), 0u);
}

/// A key maker that always makes `name`.
static std::function<std::string()> key_named(std::string name) {
  return [name] { return name; };
}

TEST(HostBoard, OnlyTheHolderOfAHostsKeySpeaksForItWhileItIsAlive) {
  host_board b;
  // A's first heartbeat gets a key; a stranger without it is refused.
  auto key = b.claim("a", "", key_named("k1"), t0, 15s);
  ASSERT_EQ(key, std::optional<std::string>("k1"));
  b.heard_from("a", "10.0.0.1:65001", "east", "", "", t0);
  EXPECT_EQ(b.claim("a", "", key_named("k2"), t0 + 1s, 15s), std::nullopt);
  EXPECT_EQ(b.claim("a", "wrong", key_named("k2"), t0 + 1s, 15s), std::nullopt);
  // A with its key keeps it.
  EXPECT_EQ(b.claim("a", "k1", key_named("k3"), t0 + 2s, 15s), std::optional<std::string>("k1"));
  EXPECT_TRUE(b.keyed("a"));
  EXPECT_FALSE(b.keyed("b"));
  // Silent past the timeout: the id is free for a new holder.
  EXPECT_EQ(b.claim("a", "", key_named("k4"), t0 + 20s, 15s), std::optional<std::string>("k4"));
  EXPECT_EQ(b.claim("a", "k1", key_named("k5"), t0 + 21s, 15s), std::nullopt);
}
