// SPDX-License-Identifier: Apache-2.0
// The daemon's cached file as the client's output (one inode, no second copy), and its limits.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t mib = 1 << 20;

/// An origin, a supernode and two daemons; node 0's client is root, like the daemon.
class shared_output_test : public workspace_test {
 protected:
  shared_output_test() : workspace_test("damselfly-shared") {}
  void SetUp() override {
    src_ = dir_ / "www" / "release.bin";
    make_file(src_, 6 * mib + 123, 31);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    supernode_ = std::make_unique<supernode_server>(dir_ / "cache", dir_ / "logs");
    for (int i = 0; i < 2; ++i)
      daemons_.push_back(
          std::make_unique<daemon_server>(2 + i, supernode_->address(), dir_.path()));
    fs::create_directories(dir_ / "out");
  }
  void TearDown() override {
    for (const auto& d : daemons_) expect_no_sanitizer_report(d->log());
  }
  /// Runs a client of daemon `node` to `out`: it must exit 0 with the right bytes.
  void fetch(std::size_t node, const fs::path& out) {
    auto client = daemons_[node]->start_client(origin_->url("release.bin"), out);
    ASSERT_EQ(client->wait(120s), std::optional<int>(0)) << client->output();
    ASSERT_EQ(sha256_file(out), sha256_file(src_));
  }
  /// The data file of the one task daemon `node` holds.
  fs::path cached_file(std::size_t node) const {
    for (const auto& task : fs::directory_iterator(daemons_[node]->data_dir() / "tasks"))
      return task.path() / "data";
    return {};
  }
  static struct stat stat_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st;
  }
  static bool same_file(const fs::path& a, const fs::path& b) {
    auto x = stat_of(a), y = stat_of(b);
    return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
  }

  fs::path src_;
  std::unique_ptr<origin_server> origin_;
  std::unique_ptr<supernode_server> supernode_;
  std::vector<std::unique_ptr<daemon_server>> daemons_;
};

TEST_F(shared_output_test, TheOutputIsTheDaemonsCachedFileNotASecondCopy) {
  auto first = dir_ / "out" / "first.bin";
  fetch(0, first);
  auto cached = cached_file(0);
  ASSERT_FALSE(cached.empty());
  EXPECT_TRUE(same_file(first, cached));
  EXPECT_EQ(stat_of(cached).st_nlink, 2u);
  // The output looks like the user's own download: this user's umask, the
  // origin's time (what `-O` gives without a daemon).
  auto mask = ::umask(022);
  ::umask(mask);
  EXPECT_EQ(stat_of(first).st_mode & 07777, (0644 & ~mask) & ~mode_t{022});
  EXPECT_EQ(stat_of(first).st_mtime, stat_of(src_).st_mtime);
  // A second output of the same task is a copy: two outputs that were one
  // file would change together.
  auto second = dir_ / "out" / "second.bin";
  fetch(0, second);
  EXPECT_FALSE(same_file(second, first));
  EXPECT_EQ(stat_of(cached).st_nlink, 2u);
  // Deleting the first output leaves the cache's file, which goes on
  // serving, and which the next output may be again.
  fs::remove(first);
  EXPECT_EQ(stat_of(cached).st_nlink, 1u);
  auto third = dir_ / "out" / "third.bin";
  fetch(0, third);
  EXPECT_TRUE(same_file(third, cached));
  EXPECT_FALSE(same_file(third, second));
}

TEST_F(shared_output_test, AttackWritingThroughTheOutputReachesNeitherTheNextClientNorPeers) {
  auto first = dir_ / "out" / "first.bin";
  fetch(0, first);
  ASSERT_TRUE(same_file(first, cached_file(0)));
  // Its owner (root here, who may) rewrites a block of the output in place.
  {
    int fd = ::open(first.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const std::string junk(4096, 'X');
    ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 3 * mib), 4096);
    ::close(fd);
  }
  // The cache's copy was that same file: the daemon no longer trusts it.
  // Another client on this node gets the origin's bytes, not the edit ...
  fetch(0, dir_ / "out" / "again.bin");
  EXPECT_NE(daemons_[0]->log().find("was written since; dropped"), std::string::npos)
      << daemons_[0]->log();
  // ... and so does a peer, which is never sent a piece that fails its check.
  fetch(1, dir_ / "out" / "peer.bin");
  EXPECT_EQ(metric(daemons_[1]->metrics(),
                   R"(damselfly_daemon_piece_failures_total{reason="bad_digest"})"),
            0);
}

TEST_F(shared_output_test, AnOutputOnAnotherFileSystemGetsItsOwnCopy) {
  // /dev/shm is another file system than the daemon's data dir: no link can
  // join them.
  fs::path other = "/dev/shm/damselfly-shared-" + std::to_string(::getpid());
  fs::create_directories(other);
  struct cleanup {
    fs::path p;
    ~cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } gone{other};
  ASSERT_NE(stat_of(other).st_dev, stat_of(daemons_[0]->data_dir()).st_dev);
  fetch(0, other / "release.bin");
  EXPECT_EQ(stat_of(cached_file(0)).st_nlink, 1u);
  EXPECT_EQ(stat_of(other / "release.bin").st_nlink, 1u);
  // From the daemon's cache to there: copied across (copy_file_range cannot).
  fetch(0, other / "again.bin");
  // And the file system the cache is on still gets the cache's file itself.
  fetch(0, dir_ / "out" / "here.bin");
  EXPECT_TRUE(same_file(dir_ / "out" / "here.bin", cached_file(0)));
}

}  // namespace
