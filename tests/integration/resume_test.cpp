// SPDX-License-Identifier: Apache-2.0
// Resume: a daemon or an in-process dfget -c killed mid-download continues from its verified
// pieces.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <thread>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/temp_dir.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t mib = 1 << 20;
constexpr std::uint64_t piece = mib;    // the supernode runs with --piece-size 1M
constexpr std::uint64_t in_flight = 8;  // dfget's default --parallel

class resume_test : public workspace_test {
 protected:
  resume_test() : workspace_test("damselfly-resume") {}
  void SetUp() override {
    fs::create_directories(dir_ / "daemon");
    make_file(dir_ / "www" / "f.bin", size_, 11);
    want_ = sha256_file(dir_ / "www" / "f.bin");
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    // Paced, so there is time to kill the downloader half-way.
    supernode_ = std::make_unique<supernode_server>(
        dir_ / "cache", dir_ / "logs",
        std::vector<std::string>{"--piece-size", "1M", "--upload-rate", "24M"});
  }
  void TearDown() override {
    if (supernode_) expect_no_sanitizer_report(supernode_->log());
  }
  double sent_by_supernode() const {
    return metric(supernode_->metrics(), "damselfly_supernode_upload_bytes_total");
  }
  /// Polls `value` until it reaches `at_least` (bounded: 30 s).
  template <class F>
  double wait_until(F value, double at_least) {
    double v = 0;
    for (int i = 0; i < 600 && (v = value()) < at_least; ++i) std::this_thread::sleep_for(50ms);
    return v;
  }

  const std::uint64_t size_ = 48 * mib + 4321;
  std::string want_;
  std::unique_ptr<origin_server> origin_;
  std::unique_ptr<supernode_server> supernode_;
};

TEST_F(resume_test, DaemonKilledMidDownloadRefetchesAtMostThePiecesInFlight) {
  daemon_server d(2, supernode_->address(), dir_ / "daemon");
  auto url = origin_->url("f.bin");
  auto out = dir_ / "out" / "f.bin";
  auto first = d.start_client(url, out);
  const std::string got = R"(damselfly_daemon_download_bytes_total{from="supernode"})";
  double before_kill = wait_until([&] { return metric(d.metrics(), got); }, 0.4 * size_);
  ASSERT_GE(before_kill, 0.4 * size_);
  ASSERT_LT(before_kill, 0.9 * size_) << "too fast to interrupt: raise the file size";
  d.kill();
  auto code = first->wait(30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0) << first->output();
  EXPECT_FALSE(fs::exists(out));  // never a partial file at the output path

  d.restart();
  auto second = d.start_client(url, out);
  code = second->wait(60s);
  ASSERT_TRUE(code.has_value());
  ASSERT_EQ(*code, 0) << second->output();
  EXPECT_EQ(sha256_file(out), want_);

  // Counted at the only source: everything sent beyond one copy of the file
  // was sent twice, and that is bounded by the pieces in flight at the kill.
  double sent = sent_by_supernode();
  double refetched = sent - static_cast<double>(size_);
  EXPECT_GE(refetched, 0);
  EXPECT_LE(refetched, static_cast<double>(in_flight * piece)) << "sent " << sent;
  // And the restarted daemon fetched only what was missing.
  double after = metric(d.metrics(), got);
  EXPECT_LE(after, static_cast<double>(size_) - before_kill + in_flight * piece);
}

TEST_F(resume_test, StandaloneContinueKeepsVerifiedPiecesAcrossAKill) {
  auto url = origin_->url("f.bin");
  auto out = dir_ / "out" / "f.bin";
  const std::vector<std::string> args{dfget_binary(), url,           "-O",
                                      out.string(),   "--supernode", supernode_->address(),
                                      "--standalone", "-c"};
  {
    process first(args, dir_ / "logs" / "first.log");
    double sent = wait_until([&] { return sent_by_supernode(); }, 0.4 * size_);
    ASSERT_LT(sent, 0.9 * size_) << "too fast to interrupt: raise the file size";
    first.signal(SIGKILL);
    first.wait(10s);
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(fs::exists(dir_ / "out" / ".f.bin.dfget.part"));
  double sent_first = sent_by_supernode();

  auto r = run_dfget(
      {url, "-O", out.string(), "--supernode", supernode_->address(), "--standalone", "-c"},
      dir_ / "logs");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sha256_file(out), want_);
  double sent = sent_by_supernode();
  EXPECT_LE(sent - static_cast<double>(size_), static_cast<double>(in_flight * piece))
      << "first run sent " << sent_first << ", both " << sent;
  // Nothing of the resume bookkeeping is left once the file is published.
  for (const auto& e : fs::directory_iterator(dir_ / "out"))
    EXPECT_EQ(e.path().filename(), "f.bin") << e.path();
}

TEST_F(resume_test, InterruptedWithoutContinueLeavesNothingAndWithContinueSaysHowToResume) {
  auto url = origin_->url("f.bin");
  auto out = dir_ / "out" / "f.bin";
  for (bool keep : {false, true}) {
    std::vector<std::string> args{dfget_binary(), url,           "-O",
                                  out.string(),   "--supernode", supernode_->address(),
                                  "--standalone"};
    if (keep) args.push_back("--continue");
    process p(args, dir_ / "logs" / (keep ? "keep.log" : "nokeep.log"));
    double base = sent_by_supernode();
    wait_until([&] { return sent_by_supernode() - base; }, 4.0 * mib);
    p.signal(SIGINT);
    auto code = p.wait(10s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 130) << p.output();
    EXPECT_FALSE(fs::exists(out));
    bool part_left = fs::exists(dir_ / "out" / ".f.bin.dfget.part");
    EXPECT_EQ(part_left, keep);
    if (keep) {
      EXPECT_NE(p.output().find("-c to resume"), std::string::npos) << p.output();
    } else {
      EXPECT_TRUE(fs::is_empty(dir_ / "out"));
    }
  }
}

}  // namespace
