// SPDX-License-Identifier: Apache-2.0
// HTTPS origins: nginx with a certificate from a CA the test makes; verification on by default.
#include <gtest/gtest.h>

#include <filesystem>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/temp_dir.hpp"
#include "damselfly/test_support/test_ca.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t mib = 1 << 20;

class https_test : public workspace_test {
 protected:
  https_test() : workspace_test("damselfly-https") {}
  void SetUp() override {
    make_file(dir_ / "www" / "f.bin", size_, 7);
    want_ = sha256_file(dir_ / "www" / "f.bin");
    auto id = ca_.issue("origin", {"IP:127.0.0.1", "DNS:localhost"});
    nginx_ = std::make_unique<nginx_server>(dir_ / "www", dir_ / "logs", &id);
  }
  run_result dfget(std::vector<std::string> args) {
    auto r = run_dfget(args, dir_ / "logs");
    expect_no_sanitizer_report(r.output);
    return r;
  }
  /// Failed with `code`, said `says`, left nothing in out/.
  void expect_refused(const run_result& r, int code, const std::string& says) {
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
    EXPECT_TRUE(fs::is_empty(dir_ / "out")) << "something was left in out/";
  }
  fs::path out(const std::string& name) { return dir_ / "out" / name; }

  const std::uint64_t size_ = 6 * mib + 17;
  test_ca ca_{dir_ / "pki", "good"};
  test_ca other_ca_{dir_ / "pki", "other"};
  std::string want_;
  std::unique_ptr<nginx_server> nginx_;
};

TEST_F(https_test, BackToSourceVerifiesTheOriginAgainstTheGivenCa) {
  auto url = nginx_->https_url("f.bin");
  auto r = dfget({url, "-O", out("a").string(), "--ca-cert", ca_.cert().string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sha256_file(out("a")), want_);
  // The certificate names localhost too: verification by host name.
  r = dfget({nginx_->https_url("f.bin", "localhost"), "-O", out("b").string(), "--ca-cert",
             ca_.cert().string(), "--digest", "sha256:" + want_});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sha256_file(out("b")), want_);
  fs::remove(out("a"));
  fs::remove(out("b"));
  EXPECT_EQ(nginx_->body_bytes(), 2 * (size_ + 1));  // probe byte + every byte, per download
}

TEST_F(https_test, AnUntrustedCertificateIsRefusedUnlessInsecureIsAsked) {
  auto url = nginx_->https_url("f.bin");
  // Another CA, and the system store (which does not know the test CA).
  expect_refused(dfget({url, "-O", out("a").string(), "--ca-cert", other_ca_.cert().string()}), 4,
                 "certificate verify failed");
  expect_refused(dfget({url, "-O", out("a").string()}), 4, "certificate verify failed");
  // A certificate for other names than the one dialled.
  auto elsewhere = ca_.issue("elsewhere", {"DNS:elsewhere.invalid"});
  nginx_server wrong_name(dir_ / "www", dir_ / "logs" / "wrong-name", &elsewhere);
  expect_refused(dfget({wrong_name.https_url("f.bin"), "-O", out("a").string(), "--ca-cert",
                        ca_.cert().string()}),
                 4, "certificate verify failed");
  // A CA file that is not one is a usage error before anything is fetched.
  expect_refused(
      dfget({url, "-O", out("a").string(), "--ca-cert", (dir_ / "www" / "f.bin").string()}), 2,
      "cannot load CA certificates");
  // --insecure (and wget's spelling) skip verification on request.
  for (const char* flag : {"--insecure", "--no-check-certificate"}) {
    auto r = dfget({url, "-O", out("ok").string(), flag, "--ca-cert", other_ca_.cert().string()});
    ASSERT_EQ(r.exit_code, 0) << flag << ": " << r.output;
    EXPECT_EQ(sha256_file(out("ok")), want_);
    fs::remove(out("ok"));
  }
}

TEST_F(https_test, TheSupernodeFetchesHttpsOriginsWithItsOwnTrust) {
  auto url = nginx_->https_url("f.bin");
  {
    // A supernode that trusts only the system store reports the failure; the
    // client does not quietly fetch around it.
    fs::create_directories(dir_ / "logs" / "sn1");
    supernode_server sn(dir_ / "cache-untrusting", dir_ / "logs" / "sn1");
    expect_refused(dfget({url, "-O", out("a").string(), "--supernode", sn.address(), "--standalone",
                          "--no-back-source"}),
                   4, "certificate verify failed");
  }
  supernode_server sn(dir_ / "cache", dir_ / "logs", {"--ca-cert", ca_.cert().string()});
  auto before = nginx_->body_bytes();
  for (const char* name : {"a", "b"}) {
    auto r = dfget({url, "-O", out(name).string(), "--supernode", sn.address(), "--standalone"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("from supernode 6.0 MiB"), std::string::npos) << r.output;
    EXPECT_EQ(sha256_file(out(name)), want_);
  }
  // Fetched once for both clients (a revalidation probe costs at most a byte).
  EXPECT_LE(nginx_->body_bytes() - before, size_ + 2);
}

TEST_F(https_test, TheDaemonUsesTheClientsCaForBackToSource) {
  // The daemon's supernode is down: it goes to the origin itself, trusting
  // what this client trusts.
  auto dead = "127.0.0.1:" + std::to_string(free_port());
  fs::create_directories(dir_ / "daemon");
  daemon_server d(2, dead, dir_ / "daemon");
  auto url = nginx_->https_url("f.bin");
  auto bad = d.start_client(url, out("a"), {"--ca-cert", other_ca_.cert().string()});
  auto code = bad->wait(60s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 4) << bad->output();
  EXPECT_NE(bad->output().find("certificate verify failed"), std::string::npos) << bad->output();
  EXPECT_FALSE(fs::exists(out("a")));
  auto good = d.start_client(url, out("b"), {"--ca-cert", ca_.cert().string()});
  code = good->wait(60s);
  ASSERT_TRUE(code.has_value());
  ASSERT_EQ(*code, 0) << good->output();
  EXPECT_EQ(sha256_file(out("b")), want_);
}

}  // namespace
