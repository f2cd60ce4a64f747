// SPDX-License-Identifier: Apache-2.0
// Three supernodes and ten daemons on loopback: tasks spread by hashing, and a lost owner costs no
// download.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <thread>

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

class fleet_test : public workspace_test {
 protected:
  fleet_test() : workspace_test("damselfly-fleet") {}
  void TearDown() override {
    for (const auto& d : daemons_) expect_no_sanitizer_report(d->log());
    for (const auto& s : supernodes_) expect_no_sanitizer_report(s->log());
  }
  /// Three supernodes sharing one identity key, then `daemons` daemons that
  /// list all three (in a different order each, as hosts configured by hand would).
  void start(int daemons, const std::string& supernode_rate, const std::string& daemon_rate) {
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    for (int i = 0; i < 3; ++i) {
      supernodes_.push_back(std::make_unique<supernode_server>(
          dir_ / ("cache" + std::to_string(i)), dir_ / "logs",
          std::vector<std::string>{"--identity-key-file", (dir_ / "fleet.key").string(),
                                   "--upload-rate", supernode_rate, "--seed-slots", "4",
                                   "--peer-timeout", "6"}));
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
  /// Indexes of supernodes_ in the order of the task of `url`, as every
  /// client computes it: the owner first.
  std::vector<std::size_t> order_of(const std::string& url) const {
    std::vector<damselfly::host_port> hps;
    for (const auto& s : supernodes_) hps.push_back({"127.0.0.1", s->port()});
    damselfly::proto::supernode_list list(hps);
    damselfly::task_identity identity;
    identity.url = url;
    auto id = damselfly::make_task_id(identity);
    EXPECT_TRUE(id);
    return list.order_for(id ? *id : url, {});
  }
  fs::path out(std::size_t i) const { return dir_ / "out" / ("node" + std::to_string(i)); }

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
  }
}

TEST_F(fleet_test, TheOwnerKilledMidTransferCostsNoNodeItsDownload) {
  make_file(dir_ / "www" / "release.bin", 48 * mib, 91);
  start(10, "8M", "8M");
  auto url = origin_->url("release.bin");
  auto order = order_of(url);
  auto owner = order.front();
  std::vector<std::unique_ptr<process>> clients;
  for (std::size_t i = 0; i < daemons_.size(); ++i)
    clients.push_back(daemons_[i]->start_client(url, out(i)));
  // Kill the owner once the swarm holds a good part of the file.
  for (int i = 0; i < 400; ++i) {
    double got =
        sum_metric(daemons_, R"(damselfly_daemon_download_bytes_total{from="supernode"})") +
        sum_metric(daemons_, R"(damselfly_daemon_download_bytes_total{from="peer"})");
    if (got > 10.0 * 12 * mib) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(metric(supernodes_[owner]->metrics(), "damselfly_supernode_tasks"), 1)
      << "the owner by hashing does not hold the task";
  supernodes_[owner]->kill();
  auto want = sha256_file(dir_ / "www" / "release.bin");
  for (std::size_t i = 0; i < clients.size(); ++i) {
    auto status = clients[i]->wait(180s);
    ASSERT_TRUE(status) << "client " << i << " still running";
    EXPECT_EQ(*status, 0) << "node " << i << ": " << clients[i]->output();
    EXPECT_EQ(sha256_file(out(i)), want) << "node " << i;
  }
  int moved = 0;
  for (const auto& d : daemons_)
    moved += d->log().find("moving to the task's next supernode") != std::string::npos;
  EXPECT_GT(moved, 0) << "no daemon was still downloading when the owner died";
  // The next supernode in the task's order took over; the third never heard of it.
  EXPECT_EQ(metric(supernodes_[order[1]]->metrics(), "damselfly_supernode_tasks"), 1);
  EXPECT_EQ(metric(supernodes_[order[2]]->metrics(), "damselfly_supernode_tasks"), 0);
  // Without a replica of the digests the successor fetches the file again
  // itself: at most two copies in all, never one per node.
  EXPECT_LE(static_cast<double>(origin_->body_bytes()), 2.05 * 48 * mib);
}
