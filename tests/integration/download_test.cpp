// SPDX-License-Identifier: Apache-2.0
// End to end on loopback: real origin (test origin or nginx), real supernode, real dfget processes.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "damselfly/common/task_id.hpp"
#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/temp_dir.hpp"
#include "damselfly/test_support/test_peer.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t mib = 1 << 20;

/// An origin with files, a supernode and a scratch dir, per test.
class download_test : public workspace_test {
 protected:
  download_test() : workspace_test("damselfly-it") {}
  void TearDown() override {
    if (supernode_) expect_no_sanitizer_report(supernode_->log());
  }
  void start(std::vector<std::string> supernode_args = {}) {
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    supernode_ = std::make_unique<supernode_server>(dir_ / "cache", dir_ / "logs", supernode_args);
  }
  fs::path file(const std::string& name, std::uint64_t size, std::uint64_t seed = 1) {
    auto p = dir_ / "www" / name;
    make_file(p, size, seed);
    return p;
  }
  run_result dfget(const std::string& url, const fs::path& out,
                   std::vector<std::string> extra = {}) {
    // In-process: these tests are about the download itself, not the daemon.
    std::vector<std::string> args{
        url, "-O", out.string(), "--supernode", supernode_->address(), "--standalone"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_dfget(args, dir_ / "logs");
    expect_no_sanitizer_report(r.output);
    return r;
  }
  /// The download failed cleanly: non-zero `code`, one error line, nothing at `out`.
  void expect_clean_failure(const run_result& r, int code, const fs::path& out,
                            const std::string& says) {
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find("dfget: error: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out));
    for (const auto& e : fs::directory_iterator(out.parent_path()))
      EXPECT_EQ(e.path().filename().string().find(".part"), std::string::npos) << e.path();
  }

  std::unique_ptr<origin_server> origin_;
  std::unique_ptr<supernode_server> supernode_;
};

}  // namespace

TEST_F(download_test, EdgeSizesArriveIntactAndTheOriginSendsEachByteOnce) {
  start({"--piece-size", "1M"});
  const std::vector<std::pair<std::string, std::uint64_t>> sizes{{"zero", 0},
                                                                 {"one", 1},
                                                                 {"piece", mib},
                                                                 {"piece_plus_one", mib + 1},
                                                                 {"many", 7 * mib + 12345}};
  std::uint64_t expected_origin = 0;
  for (const auto& [name, size] : sizes) {
    auto src = file(name, size, size + 3);
    auto out = dir_ / "out" / name;
    auto r = dfget(origin_->url(name), out);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.output;
    EXPECT_EQ(fs::file_size(out), size) << name;
    EXPECT_EQ(sha256_file(out), sha256_file(src)) << name;
    // One probe byte (none for an empty file), then every byte exactly once.
    expected_origin += size + (size > 0 ? 1 : 0);
  }
  EXPECT_EQ(origin_->body_bytes(), expected_origin);
  auto m = supernode_->metrics();
  EXPECT_EQ(metric(m, "damselfly_supernode_source_bytes_total"),
            static_cast<double>(expected_origin));
  EXPECT_GE(metric(m, "damselfly_supernode_upload_bytes_total"),
            static_cast<double>(expected_origin - 4));
}

TEST_F(download_test, OriginWithoutRangeSupportIsStreamedOnce) {
  start({"--piece-size", "1M"});
  auto src = file("f", 5 * mib + 77);
  auto out = dir_ / "out" / "f";
  auto r = dfget(origin_->url("f", "norange=1"), out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sha256_file(out), sha256_file(src));
  EXPECT_EQ(origin_->body_bytes(), fs::file_size(src));
  EXPECT_EQ(origin_->requests(), 1u);
}

TEST_F(download_test, OriginWithoutContentLengthIsStreamedOnce) {
  start({"--piece-size", "1M"});
  auto src = file("f", 3 * mib + 5);
  auto out = dir_ / "out" / "f";
  auto r = dfget(origin_->url("f", "nolength=1"), out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sha256_file(out), sha256_file(src));
  EXPECT_EQ(origin_->body_bytes(), fs::file_size(src));
}

TEST_F(download_test, OriginErrorsFailCleanly) {
  start({"--origin-timeout", "2"});
  file("f", 2 * mib);
  auto out = dir_ / "out" / "f";
  expect_clean_failure(dfget(origin_->url("missing"), out), 4, out, "404");
  expect_clean_failure(dfget(origin_->url("f", "status=500"), out), 4, out, "500");
  expect_clean_failure(dfget(origin_->url("f", "norange=1&reset_after=100000"), out), 4, out,
                       "origin");
  expect_clean_failure(dfget(origin_->url("f", "reset_after=5000"), out), 4, out, "origin");
  expect_clean_failure(dfget(origin_->url("f", "norange=1&stall_after=1000"), out), 4, out,
                       "timed out");
  auto nobody = "http://127.0.0.1:" + std::to_string(free_port()) + "/f";
  expect_clean_failure(dfget(nobody, out), 4, out, "cannot reach origin");
}

TEST_F(download_test, SlowOriginIsServedCutThrough) {
  start({"--piece-size", "1M"});
  auto src = file("slow", 4 * mib);
  // One slow stream (~2 s for the whole file), so pieces complete one after another.
  auto url = origin_->url("slow", "norange=1&slow=2000000");
  auto out = dir_ / "out" / "slow";
  auto pending = std::async(std::launch::async, [&] { return dfget(url, out); });
  auto id = damselfly::make_task_id({url, {}, "", "", "", ""});
  ASSERT_TRUE(id);
  // A watcher registered for the task (pieces go to its peers only).
  test_peer watcher(supernode_->port(), nlohmann::json{{"url", url}, {"peer_id", "w"}}.dump());
  ASSERT_TRUE(watcher.ok());
  ASSERT_EQ(watcher.task_id(), *id);
  // While the origin is still sending, piece 0 is already servable.
  bool served_early = false;
  for (int i = 0; i < 200 && !served_early; ++i) {
    auto piece = http_get(supernode_->port(), "/pieces/" + *id,
                          "Range: bytes=0-1048575\r\n" + watcher.piece_headers());
    auto status = http_get(supernode_->port(), "/api/v1/tasks/" + *id);
    if (piece.status == 206 && status.body.find("\"running\"") != std::string::npos) {
      served_early = piece.body.size() == mib;
    }
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served_early);
  auto r = pending.get();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sha256_file(out), sha256_file(src));
}

TEST_F(download_test, DigestsAreCheckedOnTheWholeFile) {
  start();
  auto src = file("f", 3 * mib + 1);
  auto sha = sha256_file(src);
  auto out = dir_ / "out" / "f";
  auto bad = std::string(64, '0');
  expect_clean_failure(dfget(origin_->url("f"), out, {"--digest", "sha256:" + bad}), 5, out,
                       "digest mismatch");
  auto ok = dfget(origin_->url("f"), out, {"--digest", "sha256:" + sha});
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(sha256_file(out), sha);
  fs::remove(out);
  auto md5_bad = dfget(origin_->url("f"), out, {"--md5", std::string(32, 'a')});
  expect_clean_failure(md5_bad, 5, out, "md5");
}

TEST_F(download_test, TwentyConcurrentClientsCostTheOriginOneCopy) {
  start();
  const std::uint64_t size = 32 * mib + 4321;
  auto src = file("f", size);
  auto want = sha256_file(src);
  std::vector<std::future<run_result>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::async(std::launch::async, [&, i] {
      return dfget(origin_->url("f"), dir_ / "out" / ("f" + std::to_string(i)));
    }));
  }
  for (int i = 0; i < 20; ++i) {
    auto r = clients[i].get();
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(sha256_file(dir_ / "out" / ("f" + std::to_string(i))), want) << i;
  }
  auto sent = static_cast<double>(origin_->body_bytes());
  EXPECT_GE(sent, static_cast<double>(size));
  EXPECT_LE(sent, static_cast<double>(size) * 1.02);
}

TEST_F(download_test, CacheSurvivesRestartAndChangedSourceIsRefetched) {
  start({"--recheck-interval", "0"});
  auto src = file("f", 3 * mib, 7);
  auto out = dir_ / "out" / "f";
  ASSERT_EQ(dfget(origin_->url("f"), out).exit_code, 0);
  auto after_first = origin_->body_bytes();
  supernode_->restart();
  fs::remove(out);
  auto again = dfget(origin_->url("f"), out);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(sha256_file(out), sha256_file(src));
  // Only the one-byte validation probe went to the origin.
  EXPECT_EQ(origin_->body_bytes(), after_first + 1);

  // New content at the same URL (new ETag and Last-Modified) is fetched afresh, never mixed.
  std::this_thread::sleep_for(1100ms);
  auto changed = file("f", 3 * mib + 10, 8);
  fs::remove(out);
  auto third = dfget(origin_->url("f"), out);
  ASSERT_EQ(third.exit_code, 0) << third.output;
  EXPECT_EQ(sha256_file(out), sha256_file(changed));
}

TEST_F(download_test, TheWholeFileDigestComesAfterTheFirstClientsAndAStopBeforeItLosesNothing) {
  // The whole-file digest reads and hashes the cache once more: the
  // supernode makes it seconds after the fetch, off the first clients' path
  // (at once, it was a tenth of a cold client's time on a shared machine).
  // Stopped before that, it makes it for the entry it loads at its next start.
  start();
  auto src = file("f", 3 * mib, 9);
  auto out = dir_ / "out" / "f";
  ASSERT_EQ(dfget(origin_->url("f"), out).exit_code, 0);
  auto id = damselfly::make_task_id({origin_->url("f"), {}, "", "", "", ""});
  ASSERT_TRUE(id);
  auto whole_digest = [&] {
    auto r = http_get(supernode_->port(), "/api/v1/tasks/" + *id);
    return r.status == 200 ? nlohmann::json::parse(r.body).value("file_sha256", "") : "";
  };
  EXPECT_EQ(whole_digest(), "") << "made while the first client downloaded";
  supernode_->restart();
  std::string got;
  for (int i = 0; i < 150 && got.empty(); ++i) {
    got = whole_digest();
    if (got.empty()) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(got, sha256_file(src));
}

TEST_F(download_test, BadInputAndUnreachableSupernode) {
  start();
  file("f", 1000);
  auto out = dir_ / "out" / "f";
  auto logs = dir_ / "logs";
  expect_clean_failure(
      run_dfget({"--standalone", "-O", out.string(), "--supernode", supernode_->address()}, logs),
      2, out, "no URL");
  expect_clean_failure(
      run_dfget({"--standalone", "notaurl", "-O", out.string(), "--supernode", "127.0.0.1:1"},
                logs),
      2, out, "not an absolute");
  expect_clean_failure(run_dfget({"--standalone", origin_->url("f"), "-O", out.string(), "--digest",
                                  "sha1:00", "--supernode", supernode_->address()},
                                 logs),
                       2, out, "bad digest");
  expect_clean_failure(run_dfget({origin_->url("f"), "-O", out.string(), "--no-back-source"}, logs),
                       2, out, "no supernode");
  auto dead = "127.0.0.1:" + std::to_string(free_port());
  expect_clean_failure(run_dfget({"--standalone", origin_->url("f"), "-O", out.string(),
                                  "--supernode", dead, "--no-back-source"},
                                 logs),
                       3, out, "cannot reach any supernode");
  expect_clean_failure(
      run_dfget({"--standalone", origin_->url("f"), "-O", (dir_ / "nodir" / "f").string(),
                 "--supernode", supernode_->address()},
                logs),
      6, dir_ / "out" / "none", "cannot create");
}

TEST_F(download_test, SupernodeStopsPromptlyAndCleanlyOnSigterm) {
  start();
  file("f", 2 * mib);
  ASSERT_EQ(dfget(origin_->url("f"), dir_ / "out" / "f").exit_code, 0);
  auto started = std::chrono::steady_clock::now();
  auto status = supernode_->stop(std::chrono::seconds(10));
  ASSERT_TRUE(status) << "supernode still running 10 s after SIGTERM";
  EXPECT_EQ(*status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  EXPECT_NE(supernode_->log().find("shutting down"), std::string::npos);
}

TEST_F(download_test, BackToSourceWhenNoSupernodeAnswers) {
  start({"--piece-size", "1M"});
  auto src = file("f", 5 * mib + 3);
  auto want = sha256_file(src);
  auto logs = dir_ / "logs";
  auto dead = "127.0.0.1:" + std::to_string(free_port());
  // No supernode at all, a dead one, and an origin without Range support:
  // every time the file comes straight from the origin, exactly once.
  const std::vector<std::vector<std::string>> cases{
      {origin_->url("f"), "-O", (dir_ / "out" / "a").string()},
      {origin_->url("f"), "-O", (dir_ / "out" / "b").string(), "--supernode", dead, "--standalone"},
      {origin_->url("f", "norange=1"), "-O", (dir_ / "out" / "c").string(), "--digest",
       "sha256:" + want}};
  for (const auto& args : cases) {
    auto before = origin_->body_bytes();
    auto r = run_dfget(args, logs);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("from origin 5.0 MiB"), std::string::npos) << r.output;
    EXPECT_EQ(sha256_file(args[2]), want);
    EXPECT_LE(origin_->body_bytes() - before, fs::file_size(src) + 1);
  }
  // The origin's errors and a wrong digest still fail cleanly.
  auto out = dir_ / "out" / "bad";
  expect_clean_failure(run_dfget({origin_->url("missing"), "-O", out.string()}, logs), 4, out,
                       "404");
  expect_clean_failure(run_dfget({origin_->url("f"), "-O", out.string(), "--digest",
                                  "sha256:" + std::string(64, '1')},
                                 logs),
                       5, out, "digest mismatch");
}

TEST_F(download_test, SupernodeCacheQuotaEvictsTheOldestIdleFile) {
  start({"--cache-quota", "10M"});
  file("a", 6 * mib, 1);
  file("b", 6 * mib, 2);
  ASSERT_EQ(dfget(origin_->url("a"), dir_ / "out" / "a").exit_code, 0);
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(dfget(origin_->url("b"), dir_ / "out" / "b").exit_code, 0);
  // 12 MiB cached against a 10 MiB quota: within one housekeeping round (5 s), a goes.
  double evicted = 0;
  for (int i = 0; i < 100 && evicted < 1; ++i) {
    std::this_thread::sleep_for(100ms);
    evicted = metric(supernode_->metrics(), "damselfly_supernode_cache_evictions_total");
  }
  EXPECT_EQ(evicted, 1);
  auto before = origin_->body_bytes();
  ASSERT_EQ(dfget(origin_->url("b"), dir_ / "out" / "b2").exit_code, 0);
  EXPECT_LE(origin_->body_bytes() - before, 1u);  // b is still cached (a validation probe at most)
  ASSERT_EQ(dfget(origin_->url("a"), dir_ / "out" / "a2").exit_code, 0);
  EXPECT_GE(origin_->body_bytes() - before, 6 * mib);  // a had to come from the origin again
  EXPECT_EQ(sha256_file(dir_ / "out" / "a2"), sha256_file(dir_ / "www" / "a"));
}

TEST_F(download_test, DiskFullIsAClearErrorAndLeavesNothing) {
  // A 4 MiB filesystem of our own to fill up (tmpfs needs root, as CI has).
  auto small = dir_ / "small";
  fs::create_directories(small);
  auto mount = run({"/bin/mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", small.string()}, 10s,
                   dir_ / "logs" / "mount.log");
  if (mount.exit_code != 0) GTEST_SKIP() << "cannot mount a tmpfs here: " << mount.output;
  struct unmount_at_exit {
    fs::path where, log;
    ~unmount_at_exit() { run({"/bin/umount", where.string()}, 10s, log); }
  } unmount{small, dir_ / "logs" / "umount.log"};
  start();
  file("big", 8 * mib);
  auto out = small / "big";
  auto r = dfget(origin_->url("big"), out);
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_empty(small));  // no output and no temporary file
}

TEST_F(download_test, HeadersReachTheOriginAndStayOutOfLogs) {
  start();
  auto src = file("private", 3 * mib);
  const std::string secret = "Bearer s3cret-token-4711";
  // Through the supernode, then back-to-source: both paths carry the header.
  auto via_supernode =
      dfget(origin_->url("private"), dir_ / "out" / "a", {"--header", "Authorization: " + secret});
  ASSERT_EQ(via_supernode.exit_code, 0) << via_supernode.output;
  EXPECT_NE(http_get(origin_->port(), "/_last_headers").body.find("Authorization: " + secret),
            std::string::npos);
  auto direct = run_dfget({origin_->url("private", "direct=1"), "-O", (dir_ / "out" / "b").string(),
                           "--header", "Authorization: " + secret, "--log-level", "trace"},
                          dir_ / "logs");
  ASSERT_EQ(direct.exit_code, 0) << direct.output;
  EXPECT_NE(http_get(origin_->port(), "/_last_headers").body.find("Authorization: " + secret),
            std::string::npos);
  // The supernode logs at debug level here; neither it nor dfget at trace says the secret.
  EXPECT_EQ(supernode_->log().find("s3cret"), std::string::npos);
  EXPECT_EQ(via_supernode.output.find("s3cret"), std::string::npos);
  EXPECT_EQ(direct.output.find("s3cret"), std::string::npos);
  EXPECT_EQ(sha256_file(dir_ / "out" / "b"), sha256_file(src));
}

TEST_F(download_test, ProgressBarRendersUpdatesAndEndsWithASummaryOnATerminal) {
  start();
  file("f", 16 * mib);
  auto out = dir_ / "out" / "f";
  auto typescript = dir_ / "logs" / "typescript";
  // script(1) gives dfget a pseudo-terminal, as an operator's shell would; the
  // slow origin (~1 s) leaves time for several redraws.
  std::string cmd = dfget_binary() + " '" + origin_->url("f", "norange=1&slow=16000000") + "' -O " +
                    out.string() + " --standalone --supernode " + supernode_->address();
  auto r =
      run({"/usr/bin/script", "-qec", cmd, typescript.string()}, 60s, dir_ / "logs" / "script.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto text = read_text(typescript);
  std::size_t redraws = 0;
  for (auto pos = text.find("\rf ["); pos != std::string::npos; pos = text.find("\rf [", pos + 1))
    ++redraws;
  EXPECT_GE(redraws, 2u) << text;                         // it updates in place
  EXPECT_NE(text.find("% "), std::string::npos) << text;  // with a percentage
  EXPECT_NE(text.find(" of 16.0 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find(", eta "), std::string::npos) << text;  // with the time left
  auto summary = text.rfind("saved: 16.0 MiB");
  ASSERT_NE(summary, std::string::npos) << text;
  EXPECT_GT(summary, text.rfind("\rf ["));  // and ends with the summary line
  EXPECT_EQ(sha256_file(out), sha256_file(dir_ / "www" / "f"));
}

TEST_F(download_test, JsonProgressIsOneEventPerLine) {
  start();
  auto src = file("f", 12 * mib);
  auto out = dir_ / "out" / "f";
  // A slow origin so progress has time to be reported more than once.
  auto r = dfget(origin_->url("f", "norange=1&slow=20000000"), out, {"--progress", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  int progress = 0;
  std::uint64_t last_bytes = 0;
  nlohmann::json final_event;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;  // stderr's summary line shares the log
    auto j = nlohmann::json::parse(line);          // every event line parses on its own
    if (j["event"] == "progress") {
      ++progress;
      EXPECT_GE(j["bytes"].get<std::uint64_t>(), last_bytes);  // monotonic
      last_bytes = j["bytes"].get<std::uint64_t>();
    } else {
      final_event = j;
    }
  }
  EXPECT_GE(progress, 1);
  ASSERT_EQ(final_event["event"], "done");
  EXPECT_EQ(final_event["bytes"].get<std::uint64_t>(), fs::file_size(src));
  EXPECT_EQ(final_event["from_supernode"].get<std::uint64_t>(), fs::file_size(src));

  auto bad = run_dfget({"--standalone", origin_->url("missing"), "-O", out.string() + ".x",
                        "--supernode", supernode_->address(), "--progress", "json"},
                       dir_ / "logs");
  EXPECT_EQ(bad.exit_code, 4);
  EXPECT_NE(bad.output.find(R"({"event":"error","exit_code":4,)"), std::string::npos) << bad.output;
  EXPECT_EQ(run_dfget({origin_->url("f"), "-O", out.string(), "--progress", "fancy"}, dir_ / "logs")
                .exit_code,
            2);
}

TEST(ServiceManager, SupernodeSaysReadyAndStoppingOnTheNotifySocket) {
  temp_dir dir{"damselfly-notify"};
  // The service manager's end: a datagram socket the supernode finds in $NOTIFY_SOCKET.
  auto path = (dir / "notify").string();
  int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  supernode_server sn(dir / "cache", dir.path());
  ::unsetenv("NOTIFY_SOCKET");
  auto receive = [&] {
    char buf[256] = {};
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return std::string();
    auto n = ::recv(fd, buf, sizeof buf - 1, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  };
  EXPECT_EQ(receive(), "READY=1");
  EXPECT_EQ(sn.stop(), std::optional<int>(0));
  EXPECT_EQ(receive(), "STOPPING=1");
  ::close(fd);
}

TEST_F(download_test, OutputDirectoryTakesTheUrlFileNameAndDragonflySpellingsWork) {
  start();
  auto src = file("package.tar", 2 * mib + 3);
  auto r = run_dfget({"--standalone", "-u", origin_->url("package.tar"), "-o",
                      (dir_ / "out").string(), "-n", supernode_->address()},
                     dir_ / "logs");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sha256_file(dir_ / "out" / "package.tar"), sha256_file(src));
}

TEST_F(download_test, DaemonTotalLimitCapsAllDownloadsTogetherAndClientsCanOnlyLower) {
  // Lower bounds on time only: a cap makes a transfer at least this slow,
  // however fast or loaded the machine is.
  start();
  auto a = file("a", 6 * mib, 1);
  auto b = file("b", 6 * mib, 2);
  fs::create_directories(dir_ / "daemon");
  daemon_server d(3, supernode_->address(), dir_ / "daemon", {"--total-limit", "8M"});
  auto started = std::chrono::steady_clock::now();
  auto ca = d.start_client(origin_->url("a"), dir_ / "out" / "a");
  auto cb = d.start_client(origin_->url("b"), dir_ / "out" / "b");
  ASSERT_EQ(ca->wait(60s), 0) << ca->output();
  ASSERT_EQ(cb->wait(60s), 0) << cb->output();
  auto both = std::chrono::steady_clock::now() - started;
  // 12 MiB at 8 MiB/s, less the 1 MiB the bucket may hold at the start.
  EXPECT_GE(both, 1300ms);
  EXPECT_EQ(sha256_file(dir_ / "out" / "a"), sha256_file(a));
  EXPECT_EQ(sha256_file(dir_ / "out" / "b"), sha256_file(b));
  // A client's --limit-rate lowers its own download below the daemon's total.
  auto c = file("c", 4 * mib, 3);
  started = std::chrono::steady_clock::now();
  auto cc = d.start_client(origin_->url("c"), dir_ / "out" / "c", {"--limit-rate", "2M"});
  ASSERT_EQ(cc->wait(60s), 0) << cc->output();
  EXPECT_GE(std::chrono::steady_clock::now() - started, 1400ms);  // 4 MiB at 2 MiB/s, 1 MiB burst
  EXPECT_EQ(sha256_file(dir_ / "out" / "c"), sha256_file(c));
}

TEST_F(download_test, SupernodeApiRejectsBadRequestsNamingTheField) {
  start();
  auto post = [&](const std::string& body) {
    return raw_http(supernode_->port(),
                    "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  };
  auto missing = post(R"({"peer_id": "p"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find(R"("field":"url")"), std::string::npos) << missing.body;
  auto mistyped = post(R"({"url": "http://127.0.0.1:1/f", "peer_id": 7})");
  EXPECT_EQ(mistyped.status, 400);
  EXPECT_NE(mistyped.body.find(R"("field":"peer_id")"), std::string::npos) << mistyped.body;
  EXPECT_EQ(post("not json").status, 400);
  EXPECT_EQ(http_get(supernode_->port(), "/pieces/" + std::string(64, 'a')).status, 404);
  EXPECT_EQ(http_get(supernode_->port(), "/nope").status, 404);
  EXPECT_EQ(http_get(supernode_->port(), "/healthz").status, 200);
}

TEST(NginxOrigin, LargeFileThroughTheSupernodeMatchesAndIsFetchedOnce) {
  temp_dir dir{"damselfly-nginx"};
  fs::create_directories(dir / "www");
  fs::create_directories(dir / "logs");
  const std::uint64_t size = 300 * mib + 12345;
  make_file(dir / "www" / "big.bin", size, 99);
  nginx_server nginx(dir / "www", dir / "logs");
  supernode_server sn(dir / "cache", dir / "logs");
  auto out = dir / "big.out";
  auto r = run_dfget(
      {"--standalone", nginx.url("big.bin"), "-O", out.string(), "--supernode", sn.address()},
      dir / "logs", 300s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(fs::file_size(out), size);
  EXPECT_EQ(sha256_file(out), sha256_file(dir / "www" / "big.bin"));
  EXPECT_EQ(nginx.body_bytes(), size + 1);  // the probe byte, then every byte once
}

TEST_F(download_test, ASyncWaitingForWorkIsAnsweredWhenAnotherPeerReportsNotWhenItsWaitEnds) {
  // One seed slot: while peer A fetches a piece from the supernode, peer B
  // can be given nothing and its sync waits (up to its wait_ms, 5 s). A's
  // report frees the slot: B must hear of it then, not 5 s later.
  start({"--piece-size", "256K", "--seed-slots", "1"});
  file("f.bin", 1 * mib, 9);
  auto port = supernode_->port();
  std::map<std::string, std::string> keys;
  std::string task_id;
  for (const std::string peer : {"a", "b"}) {
    auto r = post_json(port, "/api/v1/tasks",
                       nlohmann::json{{"url", origin_->url("f.bin")}, {"peer_id", peer}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = nlohmann::json::parse(r.body);
    keys[peer] = j.at("peer_key").get<std::string>();
    task_id = j.at("task_id").get<std::string>();
  }
  std::string state;
  for (int i = 0; i < 200 && state != "done"; ++i) {
    state =
        nlohmann::json::parse(http_get(port, "/api/v1/tasks/" + task_id).body).value("state", "");
    if (state != "done") std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(state, "done");
  auto sync = [&](const std::string& peer, const std::string& body) {
    return post_json(port, "/api/v1/tasks/" + task_id + "/peers/" + peer + "/sync", body,
                     "X-Damselfly-Peer-Key: " + keys[peer] + "\r\n");
  };
  auto first = sync("a", R"({"want": 1})");
  ASSERT_EQ(first.status, 200) << first.body;
  auto assigned = nlohmann::json::parse(first.body).at("assignments");
  ASSERT_EQ(assigned.size(), 1u) << first.body;
  auto waiting = std::async(std::launch::async, [&] {
    auto started = std::chrono::steady_clock::now();
    auto r = sync("b", R"({"want": 4, "wait_ms": 5000})");
    return std::make_pair(r, std::chrono::steady_clock::now() - started);
  });
  ASSERT_EQ(waiting.wait_for(500ms), std::future_status::timeout) << "B was not kept waiting";
  nlohmann::json report{{"results", nlohmann::json::array({{{"piece", assigned[0].at("piece")},
                                                            {"status", "unreachable"},
                                                            {"source", "supernode"}}})},
                        {"want", 0}};
  ASSERT_EQ(sync("a", report.dump()).status, 200);
  auto [answer, took] = waiting.get();
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(nlohmann::json::parse(answer.body).at("assignments").size(), 1u) << answer.body;
  EXPECT_LT(took, 4s) << "B's sync waited out its wait_ms after A's report freed the slot";
}
