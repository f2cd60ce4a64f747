// SPDX-License-Identifier: Apache-2.0
// dfget where wget users' hands expect it: output targets, names, flags that must not swallow the
// URL.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/process.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// An origin with a few files and a supernode; dfget runs in-process or
/// through a daemon.
class wget_habits_test : public workspace_test {
 protected:
  wget_habits_test() : workspace_test("damselfly-wget") {
    make_file(dir_ / "www" / "f.bin", (2 << 20) + 333, 4);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    supernode_ = std::make_unique<supernode_server>(dir_ / "cache", dir_ / "logs");
  }
  run_result dfget(std::vector<std::string> args) {
    args.insert(args.end(), {"--standalone", "--supernode", supernode_->address()});
    return run_dfget(args, dir_ / "logs");
  }
  daemon_server& daemon() {
    if (!daemon_) daemon_ = std::make_unique<daemon_server>(2, supernode_->address(), dir_.path());
    return *daemon_;
  }
  run_result via_daemon(const std::string& url, const std::string& out) {
    auto c = daemon().start_client(url, out);
    auto code = c->wait(120s);
    return {code ? *code : -1, c->output()};
  }
  std::string want() { return sha256_file(dir_ / "www" / "f.bin"); }
  static struct stat stat_of(const fs::path& p) {
    struct stat st {};
    ::lstat(p.c_str(), &st);
    return st;
  }

  std::unique_ptr<origin_server> origin_;
  std::unique_ptr<supernode_server> supernode_;
  std::unique_ptr<daemon_server> daemon_;
};

}  // namespace

TEST_F(wget_habits_test, OutputOntoACharacterDeviceWritesToItAndNeverReplacesIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod needs root";
  // The same device as /dev/null, in a scratch directory: before, dfget
  // renamed a regular file over it (as root, -O /dev/null would have
  // replaced the real one).
  auto null_dev = dir_ / "null";
  ASSERT_EQ(::mknod(null_dev.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  auto in_process = dfget({origin_->url("f.bin"), "-O", null_dev.string()});
  EXPECT_EQ(in_process.exit_code, 0) << in_process.output;
  auto daemon_route = via_daemon(origin_->url("f.bin"), null_dev.string());
  EXPECT_EQ(daemon_route.exit_code, 0) << daemon_route.output;
  auto st = stat_of(null_dev);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  // And no temporary was left beside it.
  for (const auto& e : fs::directory_iterator(dir_.path()))
    EXPECT_EQ(e.path().filename().string().find(".null"), std::string::npos) << e.path();
}

TEST_F(wget_habits_test, OutputOntoAFifoStreamsTheVerifiedFileInOrder) {
  auto fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto reader = std::async(std::launch::async, [&] {
    std::ifstream in(fifo, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  });
  auto r = dfget({origin_->url("f.bin"), "-O", fifo.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(reader.wait_for(30s), std::future_status::ready);
  auto got = reader.get();
  std::ofstream(dir_ / "out" / "from-fifo", std::ios::binary) << got;
  EXPECT_EQ(sha256_file(dir_ / "out" / "from-fifo"), want());
  EXPECT_EQ(fs::status(fifo).type(), fs::file_type::fifo);
}

TEST_F(wget_habits_test, DashMeansStandardOutput) {
  std::ofstream(dir_ / "www" / "hello.txt") << "hello from the origin\n";
  auto r = dfget({origin_->url("hello.txt"), "-O", "-", "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "hello from the origin\n");
  EXPECT_FALSE(fs::exists(fs::current_path() / "-"));
}

TEST_F(wget_habits_test, ASymlinkIsWrittenThroughAndStaysALink) {
  auto real = dir_ / "out" / "real.bin";
  std::ofstream(real) << "old";
  fs::create_symlink(real, dir_ / "out" / "link.bin");
  auto r = dfget({origin_->url("f.bin"), "-O", (dir_ / "out" / "link.bin").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::is_symlink(dir_ / "out" / "link.bin"));
  EXPECT_EQ(sha256_file(real), want());
  // A dangling link gets its target created.
  fs::create_symlink("made.bin", dir_ / "out" / "dangling.bin");
  auto d = via_daemon(origin_->url("f.bin"), (dir_ / "out" / "dangling.bin").string());
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_TRUE(fs::is_symlink(dir_ / "out" / "dangling.bin"));
  EXPECT_EQ(sha256_file(dir_ / "out" / "made.bin"), want());
}

TEST_F(wget_habits_test, AReplacedFileKeepsItsMode) {
  auto out = dir_ / "out" / "script.sh";
  std::ofstream(out) << "old";
  fs::permissions(out, fs::perms(0750));
  ASSERT_EQ(dfget({origin_->url("f.bin"), "-O", out.string()}).exit_code, 0);
  EXPECT_EQ(fs::status(out).permissions() & fs::perms::all, fs::perms(0750));
  EXPECT_EQ(sha256_file(out), want());
}

TEST_F(wget_habits_test, WithoutDashOTheUrlsDecodedNameIsUsedUnderDashP) {
  fs::copy_file(dir_ / "www" / "f.bin", dir_ / "www" / "my%20file.bin");
  auto r = dfget({origin_->url("my%20file.bin"), "-P", (dir_ / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sha256_file(dir_ / "out" / "my file.bin"), want());
  // -O DIR decodes the same way.
  fs::create_directories(dir_ / "out" / "d");
  ASSERT_EQ(dfget({origin_->url("my%20file.bin"), "-O", (dir_ / "out" / "d").string()}).exit_code,
            0);
  EXPECT_TRUE(fs::exists(dir_ / "out" / "d" / "my file.bin"));
}

TEST_F(wget_habits_test, NoClobberLeavesAnExistingFileAndFetchesNothing) {
  auto out = dir_ / "out" / "kept.bin";
  std::ofstream(out) << "mine";
  auto before = origin_->requests();
  for (const char* flag : {"--no-clobber", "-nc"}) {
    auto r = dfget({origin_->url("f.bin"), "-O", out.string(), flag});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("already there"), std::string::npos) << r.output;
  }
  EXPECT_EQ(read_text(out), "mine");
  EXPECT_EQ(origin_->requests(), before);
}

TEST_F(wget_habits_test, OptionsWithValuesDoNotSwallowTheUrl) {
  auto out = dir_ / "out" / "f.bin";
  // Before: "no URL given" (the URL was read as a second header / supernode).
  auto header_first =
      run_dfget({"--header", "X-Trace: 1", origin_->url("f.bin"), "-O", out.string(),
                 "--standalone", "--supernode", supernode_->address()},
                dir_ / "logs");
  ASSERT_EQ(header_first.exit_code, 0) << header_first.output;
  fs::remove(out);
  auto supernode_first = run_dfget({"--supernode", supernode_->address(), origin_->url("f.bin"),
                                    "-O", out.string(), "--standalone", "-nv"},
                                   dir_ / "logs");
  ASSERT_EQ(supernode_first.exit_code, 0) << supernode_first.output;
  EXPECT_EQ(sha256_file(out), want());
}

TEST_F(wget_habits_test, RedirectsAreFollowedOnEveryPath) {
  // Before: "origin answered 302", exit 4, directly, via the supernode and the daemon.
  for (const char* code : {"301", "302", "303", "307", "308"}) {
    auto url = origin_->url("moved.bin", std::string("redirect=/f.bin&redirect_status=") + code);
    auto out = dir_ / "out" / (std::string("via-supernode-") + code);
    auto r = dfget({url, "-O", out.string()});
    ASSERT_EQ(r.exit_code, 0) << code << ": " << r.output;
    EXPECT_EQ(sha256_file(out), want());
  }
  // A chain of two, straight from the origin (no supernode), and through the daemon.
  auto chain = origin_->url("a.bin", "redirect=%2Fb.bin%3Fredirect%3D%2Ff.bin");
  auto direct = run_dfget({chain, "-O", (dir_ / "out" / "direct").string()}, dir_ / "logs");
  ASSERT_EQ(direct.exit_code, 0) << direct.output;
  EXPECT_EQ(sha256_file(dir_ / "out" / "direct"), want());
  auto daemon_route = via_daemon(chain, (dir_ / "out" / "daemon").string());
  ASSERT_EQ(daemon_route.exit_code, 0) << daemon_route.output;
  EXPECT_EQ(sha256_file(dir_ / "out" / "daemon"), want());
}

TEST_F(wget_habits_test, RedirectLoopsEndAndCredentialsStayWithTheirHost) {
  auto loop =
      dfget({origin_->url("loop.bin", "redirect_loop=1"), "-O", (dir_ / "out" / "loop").string()});
  EXPECT_EQ(loop.exit_code, 4) << loop.output;
  EXPECT_NE(loop.output.find("redirects"), std::string::npos) << loop.output;
  EXPECT_FALSE(fs::exists(dir_ / "out" / "loop"));
  // The same host keeps the Authorization header ...
  const std::string auth = "Authorization: Bearer s3cret";
  auto same = dfget({origin_->url("p.bin", "redirect=%2Ff.bin%3Fauth%3Ds3cret"), "-O",
                     (dir_ / "out" / "same").string(), "--header", auth});
  EXPECT_EQ(same.exit_code, 0) << same.output;
  // ... another host (localhost is not 127.0.0.1 by name) does not get it.
  auto elsewhere =
      "http%3A%2F%2Flocalhost%3A" + std::to_string(origin_->port()) + "%2Ff.bin%3Fauth%3Ds3cret";
  auto cross = dfget({origin_->url("q.bin", "redirect=" + elsewhere), "-O",
                      (dir_ / "out" / "cross").string(), "--header", auth});
  EXPECT_EQ(cross.exit_code, 4) << cross.output;
  EXPECT_NE(cross.output.find("401"), std::string::npos) << cross.output;
  EXPECT_FALSE(fs::exists(dir_ / "out" / "cross"));
}

TEST_F(wget_habits_test, FallingBackToTheOriginIsSaidAndCountedOnEveryRoute) {
  auto dead = "127.0.0.1:" + std::to_string(free_port());
  auto out = dir_ / "out" / "fallback";
  // Before: exit 0 and not a word (only at --log-level info).
  auto r =
      run_dfget({origin_->url("f.bin"), "-O", out.string(), "--standalone", "--supernode", dead},
                dir_ / "logs");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("dfget: warning:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("from origin 2.0 MiB"), std::string::npos) << r.output;
  EXPECT_EQ(sha256_file(out), want());
  // Through a daemon whose supernode is gone: the summary counts the origin's bytes too.
  fs::create_directories(dir_ / "lonely");
  daemon_server lonely(3, dead, dir_ / "lonely");
  auto c = lonely.start_client(origin_->url("f.bin"), (dir_ / "out" / "via-daemon").string());
  ASSERT_EQ(c->wait(120s), std::optional<int>(0)) << c->output();
  EXPECT_NE(c->output().find("dfget: warning:"), std::string::npos) << c->output();
  EXPECT_NE(c->output().find("from origin 2.0 MiB"), std::string::npos) << c->output();
}

TEST_F(wget_habits_test, TimeoutAndRateCapHoldOnTheDirectOriginPath) {
  // A stalled origin: --timeout ends it (exit 7) instead of the fixed 30 s read wait.
  auto started = std::chrono::steady_clock::now();
  auto stalled = run_dfget({origin_->url("f.bin", "norange=1&stall_after=1000"), "-O",
                            (dir_ / "out" / "stalled").string(), "--timeout", "3s"},
                           dir_ / "logs");
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(stalled.exit_code, 7) << stalled.output;
  EXPECT_LT(took, 20s);
  EXPECT_FALSE(fs::exists(dir_ / "out" / "stalled"));
  // A rate cap is a lower bound on the time, however fast the machine.
  started = std::chrono::steady_clock::now();
  auto capped = run_dfget(
      {origin_->url("f.bin"), "-O", (dir_ / "out" / "capped").string(), "--limit-rate", "1M"},
      dir_ / "logs");
  took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(capped.exit_code, 0) << capped.output;
  EXPECT_GE(took, 900ms);
  EXPECT_EQ(sha256_file(dir_ / "out" / "capped"), want());
  // An origin without Range support is one stream: the cap holds on it too
  // (before, it went at full speed).
  started = std::chrono::steady_clock::now();
  auto one_stream = run_dfget({origin_->url("f.bin", "norange=1"), "-O",
                               (dir_ / "out" / "one-stream").string(), "--limit-rate", "1M"},
                              dir_ / "logs");
  took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(one_stream.exit_code, 0) << one_stream.output;
  EXPECT_GE(took, 900ms);
  EXPECT_EQ(sha256_file(dir_ / "out" / "one-stream"), want());
  // Durations are spelled as people write them.
  EXPECT_EQ(run_dfget({origin_->url("f.bin"), "-O", (dir_ / "out" / "x").string(), "--timeout",
                       "5 minutes"},
                      dir_ / "logs")
                .exit_code,
            2);
}

TEST_F(wget_habits_test, SeveralUrlsAndAnInputFileEachGetTheirOwnFile) {
  std::ofstream(dir_ / "www" / "one.txt") << "one\n";
  std::ofstream(dir_ / "www" / "two.txt") << "two\n";
  auto r = dfget({origin_->url("one.txt"), origin_->url("two.txt"), "-P", (dir_ / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_text(dir_ / "out" / "one.txt"), "one\n");
  EXPECT_EQ(read_text(dir_ / "out" / "two.txt"), "two\n");
  // A list, with a comment, a blank line and one URL that fails: the
  // others are still fetched and the exit code is the failure's.
  fs::create_directories(dir_ / "out" / "list");
  std::ofstream(dir_ / "urls.txt") << "# release\n"
                                   << origin_->url("one.txt") << "\n\n"
                                   << origin_->url("missing.txt") << "\n"
                                   << origin_->url("two.txt") << "\n";
  auto listed =
      dfget({"--input-file", (dir_ / "urls.txt").string(), "-O", (dir_ / "out" / "list").string()});
  EXPECT_EQ(listed.exit_code, 4) << listed.output;
  EXPECT_EQ(read_text(dir_ / "out" / "list" / "one.txt"), "one\n");
  EXPECT_EQ(read_text(dir_ / "out" / "list" / "two.txt"), "two\n");
  EXPECT_FALSE(fs::exists(dir_ / "out" / "list" / "missing.txt"));
  // Several URLs into one regular file would be ambiguous.
  EXPECT_EQ(dfget({origin_->url("one.txt"), origin_->url("two.txt"), "-O",
                   (dir_ / "out" / "both.txt").string()})
                .exit_code,
            2);
}

TEST_F(wget_habits_test, UsageErrorsAreOneLineAndWgetExitCodesAreOnOffer) {
  auto unknown = run_dfget({"--no-such-flag", origin_->url("f.bin")}, dir_ / "logs");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.output.rfind("dfget: error:", 0), 0u) << unknown.output;
  EXPECT_EQ(std::count(unknown.output.begin(), unknown.output.end(), '\n'), 1) << unknown.output;
  auto help = run_dfget({"--help"}, dir_ / "logs");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("Exit codes:"), std::string::npos);
  // A 404: dfget's 4 ("origin"), wget's 8 ("server issued an error response").
  auto out = (dir_ / "out" / "nope").string();
  EXPECT_EQ(dfget({origin_->url("missing.bin"), "-O", out}).exit_code, 4);
  EXPECT_EQ(dfget({origin_->url("missing.bin"), "-O", out, "--wget-exit-codes"}).exit_code, 8);
}

namespace {

/// The hidden temporaries beside outputs in `dir`.
std::vector<fs::path> temporaries(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().ends_with(".part")) out.push_back(e.path());
  return out;
}

}  // namespace

TEST_F(wget_habits_test, InterruptedOrKilledRunsLeaveNoTemporaryBehind) {
  make_file(dir_ / "www" / "slow.bin", 4 << 20, 11);
  auto slow_url = origin_->url("slow.bin", "norange=1&slow=1000000");
  auto out_dir = dir_ / "out" / "stop";
  fs::create_directories(out_dir);
  // SIGINT through the daemon: before, dfget died silently; now it says so,
  // exits 130 and removes its temporary.
  auto client = daemon().start_client(slow_url, (out_dir / "a.bin").string());
  for (int i = 0; i < 200 && temporaries(out_dir).empty(); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_FALSE(temporaries(out_dir).empty());
  std::this_thread::sleep_for(300ms);
  client->signal(SIGINT);
  ASSERT_EQ(client->wait(20s), std::optional<int>(130)) << client->output();
  EXPECT_NE(client->output().find("interrupted"), std::string::npos) << client->output();
  EXPECT_TRUE(temporaries(out_dir).empty());
  // SIGKILL cannot be caught: the next run for the same output clears what it left.
  process killed({dfget_binary(), slow_url, "-O", (out_dir / "b.bin").string()},
                 dir_ / "logs" / "killed.log");
  for (int i = 0; i < 200 && temporaries(out_dir).empty(); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_FALSE(temporaries(out_dir).empty());
  killed.signal(SIGKILL);
  killed.wait(10s);
  ASSERT_FALSE(temporaries(out_dir).empty());
  auto again =
      run_dfget({origin_->url("f.bin"), "-O", (out_dir / "b.bin").string()}, dir_ / "logs");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(temporaries(out_dir).empty());
}

TEST_F(wget_habits_test, TheDaemonForgetsFailedTasksAndRemovesItsSocketOnStop) {
  auto failed = via_daemon(origin_->url("missing.bin"), (dir_ / "out" / "missing").string());
  EXPECT_EQ(failed.exit_code, 4) << failed.output;
  auto list =
      run_dfget({"cache", "list", "--daemon-socket", daemon().socket().string()}, dir_ / "logs");
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_EQ(list.output.find("missing.bin"), std::string::npos) << list.output;
  ASSERT_TRUE(fs::exists(daemon().socket()));
  EXPECT_EQ(daemon().terminate(10s), std::optional<int>(0));
  EXPECT_FALSE(fs::exists(daemon().socket()));
}

TEST_F(wget_habits_test, CredentialsInTheUrlOrFlagsBecomeBasicAuthAndLeaveTheUrl) {
  // "user:pass" in base64, as the origin expects it.
  auto protected_url = origin_->url("f.bin", "basic=dXNlcjpwYXNz");
  auto with_userinfo = "http://user:pass@" + protected_url.substr(std::string("http://").size());
  auto r = dfget({with_userinfo, "-O", (dir_ / "out" / "a").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sha256_file(dir_ / "out" / "a"), want());
  EXPECT_EQ(r.output.find("pass@"), std::string::npos) << r.output;
  auto flags = dfget(
      {protected_url, "-O", (dir_ / "out" / "b").string(), "--user", "user", "--password", "pass"});
  ASSERT_EQ(flags.exit_code, 0) << flags.output;
  auto wrong = dfget({protected_url, "-O", (dir_ / "out" / "c").string(), "--user", "user",
                      "--password", "guess"});
  EXPECT_EQ(wrong.exit_code, 4) << wrong.output;
  // Without -O, the file is named after the path, never the credentials.
  auto named = dfget({with_userinfo, "-P", (dir_ / "out").string()});
  ASSERT_EQ(named.exit_code, 0) << named.output;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "f.bin"));
}

TEST_F(wget_habits_test, ReadTimeoutEndsAStalledTransferSooner) {
  auto started = std::chrono::steady_clock::now();
  auto r = run_dfget({origin_->url("f.bin", "norange=1&stall_after=1000"), "-O",
                      (dir_ / "out" / "stalled").string(), "-T", "2s"},
                     dir_ / "logs");
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);  // not the default 30 s
  EXPECT_FALSE(fs::exists(dir_ / "out" / "stalled"));
}

TEST_F(wget_habits_test, ProgressMovesWithinAPieceNotOnlyWhenOneCompletes) {
  // Pieces of 4 MiB trickling from a supernode capped at 4 MiB/s: before,
  // progress moved once per piece (one frame at 97% for a 4 MiB file).
  supernode_server slow(dir_ / "slow-cache", dir_ / "logs",
                        {"--piece-size", "4M", "--upload-rate", "4M"});
  make_file(dir_ / "www" / "big.bin", 8 << 20, 5);
  auto r =
      run_dfget({origin_->url("big.bin"), "-O", (dir_ / "out" / "big.bin").string(), "--standalone",
                 "--supernode", slow.address(), "--progress", "json", "--parallel", "1"},
                dir_ / "logs");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  int events = 0, within = 0;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    auto at = line.find(R"("event":"progress")");
    if (at == std::string::npos) continue;
    ++events;
    auto bytes = std::stoull(line.substr(line.find(R"("bytes":)") + 8));
    if (bytes % (4u << 20) != 0) ++within;
  }
  EXPECT_GE(events, 4) << r.output;
  EXPECT_GE(within, 2) << r.output;
}

TEST_F(wget_habits_test, ADaemonThatCannotStartIsNotWaitedFor) {
  // The piece port it would take is the supernode's: the daemon dfget starts
  // exits at once. Before, dfget waited 15 s for it.
  auto started = std::chrono::steady_clock::now();
  auto r = run_dfget({origin_->url("f.bin"), "-O", (dir_ / "out" / "f.bin").string(), "--supernode",
                      supernode_->address(), "--daemon-socket",
                      (dir_ / "own" / "dfget.sock").string(), "--daemon-data-dir",
                      (dir_ / "own" / "data").string(), "--daemon-listen", supernode_->address()},
                     dir_ / "logs");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_NE(r.output.find("none could be started"), std::string::npos) << r.output;
  EXPECT_EQ(sha256_file(dir_ / "out" / "f.bin"), want());
}

TEST_F(wget_habits_test, ARunningDaemonSaysWhenItUsesOtherSupernodesThanTheClientNamed) {
  auto& d = daemon();
  auto elsewhere = "127.0.0.1:" + std::to_string(free_port());
  auto r = run_dfget({origin_->url("f.bin"), "-O", (dir_ / "out" / "f.bin").string(),
                      "--daemon-socket", d.socket().string(), "--supernode", elsewhere},
                     dir_ / "logs");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(
      r.output.find("dfget: warning: this daemon works with supernode(s) " + supernode_->address()),
      std::string::npos)
      << r.output;
  // Naming the daemon's own supernode draws no remark.
  auto same =
      run_dfget({origin_->url("f.bin"), "-O", (dir_ / "out" / "g.bin").string(), "--daemon-socket",
                 d.socket().string(), "--supernode", supernode_->address()},
                dir_ / "logs");
  ASSERT_EQ(same.exit_code, 0) << same.output;
  EXPECT_EQ(same.output.find("warning"), std::string::npos) << same.output;
  // A total cap the running daemon does not have is said, not silently dropped.
  auto capped = run_dfget({origin_->url("f.bin"), "-O", (dir_ / "out" / "h.bin").string(),
                           "--daemon-socket", d.socket().string(), "--totallimit", "5M"},
                          dir_ / "logs");
  ASSERT_EQ(capped.exit_code, 0) << capped.output;
  EXPECT_NE(capped.output.find("this daemon's total download cap is none; --totallimit applies"),
            std::string::npos)
      << capped.output;
}

TEST_F(wget_habits_test, ContinueOnTheDirectOriginPathFetchesOnlyWhatIsMissing) {
  // Before, -c kept nothing on the back-to-source path: the second run
  // downloaded the whole file again.
  make_file(dir_ / "www" / "resume.bin", 8 << 20, 21);
  auto out = dir_ / "out" / "resume.bin";
  fs::create_directories(out.parent_path());
  process first(
      {dfget_binary(), origin_->url("resume.bin"), "-O", out.string(), "-c", "--limit-rate", "2M"},
      dir_ / "logs" / "resume-first.log");
  for (int i = 0; i < 400 && origin_->body_bytes() < (3u << 20); ++i)
    std::this_thread::sleep_for(20ms);
  first.signal(SIGINT);
  ASSERT_EQ(first.wait(20s), std::optional<int>(130));
  ASSERT_FALSE(fs::exists(out));
  auto sent_before = origin_->body_bytes();
  ASSERT_LT(sent_before, 8u << 20);
  auto second = run_dfget({origin_->url("resume.bin"), "-O", out.string(), "-c"}, dir_ / "logs");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(sha256_file(out), sha256_file(dir_ / "www" / "resume.bin"));
  auto sent_again = origin_->body_bytes() - sent_before;
  // At least 2 MiB were verified before the interruption; the second run
  // adds only its one-byte probe of the origin.
  EXPECT_LE(sent_again, (8u << 20) - (2u << 20) + 1) << "the kept pieces were fetched again";
  // The summary names the whole file and what was kept, not only what came now.
  EXPECT_NE(second.output.find("saved: 8.0 MiB"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("kept from before "), std::string::npos) << second.output;
  EXPECT_TRUE(temporaries(out.parent_path()).empty());
}

TEST_F(wget_habits_test, TriesRetryTheWholeDownloadOnlyWhenAnotherAttemptMayGoBetter) {
  // Nothing listens: a network failure, tried three times with pauses between.
  auto nobody = "http://127.0.0.1:" + std::to_string(free_port()) + "/f.bin";
  auto refused =
      run_dfget({nobody, "-O", (dir_ / "out" / "refused").string(), "-t", "3", "--waitretry", "1s"},
                dir_ / "logs");
  EXPECT_EQ(refused.exit_code, 4) << refused.output;
  EXPECT_NE(refused.output.find("trying again in 1 s (attempt 2)"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("(attempt 3)"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("(attempt 4)"), std::string::npos) << refused.output;
  // A 404 will not change by asking again: one attempt, one request.
  auto requests = origin_->requests();
  auto missing =
      run_dfget({origin_->url("no-such.bin"), "-O", (dir_ / "out" / "missing").string(), "-t", "5"},
                dir_ / "logs");
  EXPECT_EQ(missing.exit_code, 4) << missing.output;
  EXPECT_EQ(missing.output.find("trying again"), std::string::npos) << missing.output;
  EXPECT_EQ(origin_->requests() - requests, 1u);
  // wget's spellings of "no limit" are taken; nonsense is a usage error.
  EXPECT_EQ(run_dfget({origin_->url("f.bin"), "-O", (dir_ / "out" / "inf").string(), "-t", "inf"},
                      dir_ / "logs")
                .exit_code,
            0);
  EXPECT_EQ(run_dfget({origin_->url("f.bin"), "-O", (dir_ / "out" / "bad").string(), "-t", "lots"},
                      dir_ / "logs")
                .exit_code,
            2);
}

TEST_F(wget_habits_test, OutputsTakeTheOriginsTimeAndDashNSkipsAFileThatIsNotNewer) {
  auto source = dir_ / "www" / "f.bin";
  const auto old_time =
      std::filesystem::file_time_type::clock::now() - std::chrono::hours(24 * 400);
  fs::last_write_time(source, old_time);
  auto mtime_of = [](const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mtime;
  };
  const auto origin_time = mtime_of(source);
  // Every route gives the file the origin's Last-Modified, as wget does.
  auto direct = dir_ / "out" / "direct.bin";
  ASSERT_EQ(run_dfget({origin_->url("f.bin"), "-O", direct.string()}, dir_ / "logs").exit_code, 0);
  EXPECT_EQ(mtime_of(direct), origin_time);
  auto swarm = dir_ / "out" / "swarm.bin";
  ASSERT_EQ(dfget({origin_->url("f.bin"), "-O", swarm.string()}).exit_code, 0);
  EXPECT_EQ(mtime_of(swarm), origin_time);
  auto daemon_out = dir_ / "out" / "daemon.bin";
  ASSERT_EQ(via_daemon(origin_->url("f.bin"), daemon_out.string()).exit_code, 0);
  EXPECT_EQ(mtime_of(daemon_out), origin_time);
  auto own_time = dir_ / "out" / "own-time.bin";
  ASSERT_EQ(
      run_dfget({origin_->url("f.bin"), "-O", own_time.string(), "--no-use-server-timestamps"},
                dir_ / "logs")
          .exit_code,
      0);
  EXPECT_GT(mtime_of(own_time), origin_time + 3600);
  // -N: the origin's file is no newer and of the same size: nothing is fetched.
  auto sent = origin_->body_bytes();
  auto same = run_dfget({origin_->url("f.bin"), "-O", direct.string(), "-N"}, dir_ / "logs");
  ASSERT_EQ(same.exit_code, 0) << same.output;
  EXPECT_NE(same.output.find("not retrieving"), std::string::npos) << same.output;
  EXPECT_LE(origin_->body_bytes() - sent, 1u);  // the probe's byte
  // A newer file at the origin is fetched.
  make_file(source, (2 << 20) + 333, 9);
  auto newer = run_dfget({origin_->url("f.bin"), "-O", direct.string(), "-N"}, dir_ / "logs");
  ASSERT_EQ(newer.exit_code, 0) << newer.output;
  EXPECT_EQ(newer.output.find("not retrieving"), std::string::npos) << newer.output;
  EXPECT_EQ(sha256_file(direct), want());
}

TEST_F(wget_habits_test, SpiderChecksTheUrlAndDashSShowsTheOriginsAnswers) {
  auto sent = origin_->body_bytes();
  auto there = run_dfget({origin_->url("f.bin"), "--spider", "-P", (dir_ / "spider").string()},
                         dir_ / "logs");
  ASSERT_EQ(there.exit_code, 0) << there.output;
  EXPECT_NE(there.output.find("exists (2097485 bytes)"), std::string::npos) << there.output;
  EXPECT_FALSE(fs::exists(dir_ / "spider"));
  EXPECT_LE(origin_->body_bytes() - sent, 1u);
  auto gone = run_dfget({origin_->url("gone.bin"), "--spider"}, dir_ / "logs");
  EXPECT_EQ(gone.exit_code, 4) << gone.output;
  EXPECT_NE(gone.output.find("origin answered 404"), std::string::npos) << gone.output;
  EXPECT_EQ(run_dfget({origin_->url("gone.bin"), "--spider", "--wget-exit-codes"}, dir_ / "logs")
                .exit_code,
            8);
  // -S prints each answer, the redirect's too, and the download goes on.
  auto hop = origin_->url("moved.bin", "redirect=/f.bin");
  auto shown = run_dfget({hop, "-S", "-O", (dir_ / "out" / "shown.bin").string()}, dir_ / "logs");
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find("HTTP/1.1 302"), std::string::npos) << shown.output;
  EXPECT_NE(shown.output.find("HTTP/1.1 206"), std::string::npos) << shown.output;
  EXPECT_NE(shown.output.find("  Last-Modified: "), std::string::npos) << shown.output;
  EXPECT_EQ(sha256_file(dir_ / "out" / "shown.bin"), want());
}

TEST_F(wget_habits_test, TheBarOnATerminalRedrawsFourTimesASecondWithNameAndTimeLeft) {
  // 3 MiB trickling at about 1 MiB/s from one stream: the bar must move
  // between pieces and while nothing arrives, on every route.
  make_file(dir_ / "www" / "bar.bin", 3 << 20, 31);
  auto url = origin_->url("bar.bin", "norange=1&slow=1000000");
  auto check = [](const terminal_result& r, const std::string& route) {
    ASSERT_EQ(r.exit_code, 0) << route << ": " << r.output;
    ASSERT_GE(r.redraws.size(), 2u) << route << ": " << r.output;
    auto span = r.redraws.back() - r.redraws.front();
    ASSERT_GE(span, 1500ms) << route;
    // At least four a second over the download (a little slack for scheduling).
    EXPECT_GE(static_cast<double>(r.redraws.size() - 1) / (span.count() / 1000.0), 3.5)
        << route << ": " << r.redraws.size() << " redraws in " << span.count() << " ms";
    EXPECT_NE(r.output.find("bar.bin ["), std::string::npos) << route << ": " << r.output;
    EXPECT_NE(r.output.find(", eta 00:0"), std::string::npos) << route << ": " << r.output;
    EXPECT_NE(r.output.find("100% 3.0 MiB of 3.0 MiB"), std::string::npos) << route;
  };
  fs::create_directories(dir_ / "out" / "d");
  check(run_on_terminal({dfget_binary(), url, "-O", (dir_ / "out" / "bar.bin").string()}, 60s),
        "in-process");
  check(run_on_terminal({dfget_binary(), url, "-O", (dir_ / "out" / "d" / "bar.bin").string(),
                         "--daemon-socket", daemon().socket().string()},
                        60s),
        "daemon");
  // An origin that stops sending: the bar keeps redrawing (its rate falling)
  // until -T ends the transfer. Before, it froze at the last byte.
  auto stalled =
      run_on_terminal({dfget_binary(), origin_->url("bar.bin", "norange=1&stall_after=100000"),
                       "-O", (dir_ / "out" / "stalled.bin").string(), "-T", "3s"},
                      60s);
  EXPECT_EQ(stalled.exit_code, 4) << stalled.output;
  ASSERT_GE(stalled.redraws.size(), 2u) << stalled.output;
  auto span = stalled.redraws.back() - stalled.redraws.front();
  EXPECT_GE(span, 2000ms) << stalled.output;
  EXPECT_GE(stalled.redraws.size(), 9u) << stalled.output;
}
