// SPDX-License-Identifier: Apache-2.0
// Unprivileged users against root's daemon (setpriv): what they may write, read and remove.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/process.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr uid_t alice = 4242;            ///< a local user of the node
constexpr gid_t damselfly_group = 4500;  ///< stands in for group "damselfly"

/// Root's daemon (this test runs as root, like the shipped unit), its socket
/// given to a group that user `alice` is in, and alice's own directory.
class local_users_test : public workspace_test {
 protected:
  local_users_test() : workspace_test("damselfly-users") {}
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: it starts root's daemon and switches users";
    make_file(dir_ / "www" / "f.bin", 3 << 20, 3);
    make_file(dir_ / "www" / "secret.bin", 1 << 20, 8);
    // Every user may walk to the socket and to their own directory.
    fs::permissions(dir_.path(), fs::perms(0755));
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    supernode_ = std::make_unique<supernode_server>(dir_ / "cache", dir_ / "logs");
    daemon_ = std::make_unique<daemon_server>(2, supernode_->address(), dir_.path());
    ASSERT_EQ(::chown(daemon_->socket().c_str(), static_cast<uid_t>(-1), damselfly_group), 0);
    home_ = dir_ / "home-alice";
    fs::create_directories(home_);
    ASSERT_EQ(::chown(home_.c_str(), alice, alice), 0);
    fs::permissions(home_, fs::perms(0700));
    root_only_ = dir_ / "root-only";
    fs::create_directories(root_only_);
    fs::permissions(root_only_, fs::perms(0700));
  }
  void TearDown() override {
    if (daemon_) expect_no_sanitizer_report(daemon_->log());
  }
  /// dfget as alice (uid and gid 4242, in the socket's group only).
  run_result as_alice(std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/setpriv",
                                  "--reuid=" + std::to_string(alice),
                                  "--regid=" + std::to_string(alice),
                                  "--groups=" + std::to_string(damselfly_group),
                                  "--",
                                  dfget_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    args_log_ += 1;
    return run(argv, 120s, dir_ / "logs" / ("alice-" + std::to_string(args_log_) + ".log"));
  }
  std::vector<std::string> via_daemon(const std::string& url, const fs::path& out) const {
    return {url, "-O", out.string(), "--daemon-socket", daemon_->socket().string()};
  }
  static uid_t owner(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
  }

  std::unique_ptr<origin_server> origin_;
  std::unique_ptr<supernode_server> supernode_;
  std::unique_ptr<daemon_server> daemon_;
  fs::path home_;
  fs::path root_only_;
  int args_log_ = 0;
};

}  // namespace

TEST_F(local_users_test, AUserDownloadsIntoTheirOwnDirectoryAsThemselves) {
  auto out = home_ / "f.bin";
  auto r = as_alice(via_daemon(origin_->url("f.bin"), out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sha256_file(out), sha256_file(dir_ / "www" / "f.bin"));
  // Created by alice's own dfget and filled through its descriptor: alice's file.
  EXPECT_EQ(owner(out), alice);
  // The daemon kept the task for the node, in its own owner-only store.
  EXPECT_EQ(owner(daemon_->data_dir()), 0u);
  EXPECT_EQ(fs::status(daemon_->data_dir()).permissions() & fs::perms::all, fs::perms(0700));
}

TEST_F(local_users_test, AUserCannotMakeRootsDaemonWriteWhereTheyCannot) {
  // Before: the daemon opened the path itself, as root, and wrote it.
  for (const auto& target : {root_only_ / "planted", fs::path("/etc") / "damselfly-planted"}) {
    auto r = as_alice(via_daemon(origin_->url("f.bin"), target));
    EXPECT_EQ(r.exit_code, 6) << r.output;
    EXPECT_NE(r.output.find("ermission denied"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(target)) << target;
  }
  EXPECT_TRUE(fs::is_empty(root_only_));
}

TEST_F(local_users_test, AUserCannotMakeRootsDaemonReadAFileForThem) {
  // A CA file is read by the client now: one alice cannot read stays unread.
  std::ofstream(root_only_ / "key.pem") << "-----BEGIN PRIVATE KEY-----\n";
  auto args = via_daemon(origin_->url("f.bin"), home_ / "f.bin");
  args.insert(args.end(), {"--ca-cert", (root_only_ / "key.pem").string()});
  auto r = as_alice(args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // Refused on alice's side (she cannot even see the file), before the daemon is asked.
  EXPECT_NE(r.output.find("--ca-cert"), std::string::npos) << r.output;
  EXPECT_EQ(daemon_->log().find("local download"), std::string::npos) << daemon_->log();
  EXPECT_FALSE(fs::exists(home_ / "f.bin"));
}

TEST_F(local_users_test, AUserCannotReadAnotherUsersPrivateDownload) {
  // Root fetches a file behind credentials through the same daemon.
  auto url = origin_->url("secret.bin", "auth=s3cret");
  auto mine = dir_ / "out" / "secret.bin";
  auto owner_run =
      run_dfget({url, "-O", mine.string(), "--daemon-socket", daemon_->socket().string(),
                 "--header", "Authorization: Bearer s3cret"},
                dir_ / "logs");
  ASSERT_EQ(owner_run.exit_code, 0) << owner_run.output;
  // Alice asks for the same URL without the credentials, or with a guess:
  // the daemon has nothing of it to give her, and the origin refuses her.
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, {"--header", "Authorization: Bearer guess"}}) {
    auto args = via_daemon(url, home_ / "secret.bin");
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = as_alice(args);
    EXPECT_EQ(r.exit_code, 4) << r.output;
    EXPECT_FALSE(fs::exists(home_ / "secret.bin"));
  }
  // Nor can she read the daemon's files, where a cached copy would be.
  auto peek = run(
      {"/usr/bin/setpriv", "--reuid=" + std::to_string(alice), "--regid=" + std::to_string(alice),
       "--clear-groups", "--", "ls", (daemon_->data_dir() / "tasks").string()},
      10s, dir_ / "logs" / "peek.log");
  EXPECT_NE(peek.exit_code, 0) << peek.output;
  EXPECT_NE(peek.output.find("ermission denied"), std::string::npos) << peek.output;
}

TEST_F(local_users_test, OnlyRootAndTheDaemonsUserRemoveCachedTasks) {
  auto out = home_ / "f.bin";
  ASSERT_EQ(as_alice(via_daemon(origin_->url("f.bin"), out)).exit_code, 0);
  auto socket = daemon_->socket().string();
  auto list = as_alice({"cache", "list", "--daemon-socket", socket});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  auto gc = as_alice({"cache", "gc", "--daemon-socket", socket});
  EXPECT_NE(gc.exit_code, 0) << gc.output;
  EXPECT_NE(gc.output.find("root and the daemon's own user"), std::string::npos) << gc.output;
  auto as_root = run_dfget({"cache", "gc", "--daemon-socket", socket}, dir_ / "logs");
  EXPECT_EQ(as_root.exit_code, 0) << as_root.output;
}
