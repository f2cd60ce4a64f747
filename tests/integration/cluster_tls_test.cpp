// SPDX-License-Identifier: Apache-2.0
// TLS on the cluster's links: a swarm with tokens and certificates, and the ways a link is refused.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/process.hpp"
#include "damselfly/test_support/test_ca.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* token = "0b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e";

/// An origin, a cluster CA with a certificate for the supernode, a token,
/// and a supernode serving HTTPS with both.
class cluster_tls_test : public workspace_test {
 protected:
  cluster_tls_test()
      : workspace_test("damselfly-tls"),
        ca_(dir_ / "pki", "cluster"),
        stranger_ca_(dir_ / "pki", "stranger") {
    make_file(dir_ / "www" / "f.bin", 12 << 20, 7);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    token_file_ = write_secret(dir_ / "cluster.token", token);
    supernode_id_ = ca_.issue("supernode", {"IP:127.0.0.1"});
  }
  void TearDown() override {
    if (supernode_) expect_no_sanitizer_report(supernode_->log());
    for (const auto& d : daemons_) expect_no_sanitizer_report(d->log());
  }
  void start_supernode(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{
        "--token-file", token_file_.string(),       "--tls-cert",   supernode_id_.cert.string(),
        "--tls-key",    supernode_id_.key.string(), "--piece-size", "1M"};
    args.insert(args.end(), extra.begin(), extra.end());
    supernode_ = std::make_unique<supernode_server>(dir_ / "cache", dir_ / "logs", args);
  }
  std::string https_supernode() const { return "https://" + supernode_->address(); }
  /// A standalone download with the token; `extra`: the trust flags.
  run_result standalone(const std::string& name, const std::vector<std::string>& extra) {
    std::vector<std::string> args{origin_->url("f.bin"),
                                  "-O",
                                  (dir_ / "out" / name).string(),
                                  "--standalone",
                                  "--no-back-source",
                                  "--supernode",
                                  https_supernode(),
                                  "--token-file",
                                  token_file_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_dfget(args, dir_ / "logs", 60s);
  }
  /// GET over TLS with curl, trusting the cluster CA (and showing `client` when set).
  run_result curl_tls(const std::string& url, const server_identity* client = nullptr) {
    std::vector<std::string> argv{"/usr/bin/curl",    "-sS", "--max-time", "10", "--cacert",
                                  ca_.cert().string()};
    if (client)
      argv.insert(argv.end(), {"--cert", client->cert.string(), "--key", client->key.string()});
    argv.insert(argv.end(), {"-H", std::string("Authorization: Bearer ") + token, url});
    return run(argv, 20s, dir_ / "logs" / "curl.log");
  }
  std::string want() { return sha256_file(dir_ / "www" / "f.bin"); }

  test_ca ca_;
  test_ca stranger_ca_;
  std::unique_ptr<origin_server> origin_;
  fs::path token_file_;
  server_identity supernode_id_;
  std::unique_ptr<supernode_server> supernode_;
  std::vector<std::unique_ptr<daemon_server>> daemons_;
};

/// Bytes a dfget summary line says came from peers ("from peers 3.0 MiB").
double from_peers(const std::string& output) {
  auto at = output.find("from peers ");
  if (at == std::string::npos) return -1;
  std::istringstream in(output.substr(at + 11));
  double value = 0;
  std::string unit;
  in >> value >> unit;
  double scale = unit == "KiB" ? 1024 : unit == "MiB" ? 1 << 20 : unit == "GiB" ? 1 << 30 : 1;
  return value * scale;
}

}  // namespace

TEST_F(cluster_tls_test, TenDaemonsWithTokensAndTlsShareAFileAndSurviveASupernodeRestart) {
  start_supernode();
  for (int i = 0; i < 10; ++i) {
    auto ip = "127.0.0." + std::to_string(2 + i);
    auto id = ca_.issue("daemon-" + ip, {"IP:" + ip});
    daemons_.push_back(std::make_unique<daemon_server>(
        2 + i, https_supernode(), dir_.path(),
        std::vector<std::string>{"--token-file", token_file_.string(), "--tls-cert",
                                 id.cert.string(), "--tls-key", id.key.string(), "--cluster-ca",
                                 ca_.cert().string()}));
  }
  std::vector<std::unique_ptr<process>> clients;
  for (int i = 0; i < 10; ++i)
    clients.push_back(
        daemons_[i]->start_client(origin_->url("f.bin"), dir_ / "out" / ("n" + std::to_string(i))));
  double peer_bytes = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(clients[i]->wait(180s), std::optional<int>(0)) << clients[i]->output();
    EXPECT_EQ(sha256_file(dir_ / "out" / ("n" + std::to_string(i))), want());
    peer_bytes += std::max(0.0, from_peers(clients[i]->output()));
  }
  // The daemons serve each other (over TLS: they serve nothing else), and
  // the origin sent the file about once.
  EXPECT_GT(peer_bytes, 0.0);
  EXPECT_LE(origin_->body_bytes(), (12u << 20) + 4096);
  // Plain HTTP is not spoken on any cluster port.
  EXPECT_EQ(http_get(supernode_->port(), "/healthz").status, 0);
  EXPECT_EQ(http_get(daemons_[0]->port(), "/healthz", "", daemons_[0]->ip()).status, 0);
  auto metrics = curl_tls("https://" + daemons_[0]->ip() + ":" +
                          std::to_string(daemons_[0]->port()) + "/metrics");
  EXPECT_EQ(metrics.exit_code, 0) << metrics.output;
  EXPECT_NE(metrics.output.find("damselfly_daemon_upload_bytes_total"), std::string::npos);

  // A restarted supernode has forgotten every peer and key: the daemons
  // register again (heartbeats tell them), get new keys, and a new client is
  // still served by its peers.
  supernode_->restart();
  std::this_thread::sleep_for(4s);  // a heartbeat round
  auto again = daemons_[9]->start_client(origin_->url("f.bin"), dir_ / "out" / "after-restart");
  ASSERT_EQ(again->wait(120s), std::optional<int>(0)) << again->output();
  EXPECT_EQ(sha256_file(dir_ / "out" / "after-restart"), want());
  EXPECT_LE(origin_->body_bytes(), (12u << 20) + 8192);
}

TEST_F(cluster_tls_test, AClientVerifiesTheSupernodeAgainstTheClusterCa) {
  start_supernode();
  auto ok = standalone("trusting", {"--cluster-ca", ca_.cert().string()});
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(sha256_file(dir_ / "out" / "trusting"), want());
  // A supernode whose certificate the client's CA did not sign is not talked to.
  auto refused = standalone("stranger", {"--cluster-ca", stranger_ca_.cert().string()});
  EXPECT_EQ(refused.exit_code, 3) << refused.output;
  EXPECT_NE(refused.output.find("certificate verify failed"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(dir_ / "out" / "stranger"));
}

TEST_F(cluster_tls_test, MutualTlsRefusesClientsWithoutACertificateOfTheCluster) {
  start_supernode({"--tls-client-ca", ca_.cert().string()});
  auto node = ca_.issue("node", {"IP:127.0.0.1"});
  auto foreign = stranger_ca_.issue("foreign", {"IP:127.0.0.1"});
  auto none = standalone("none", {"--cluster-ca", ca_.cert().string()});
  EXPECT_EQ(none.exit_code, 3) << none.output;
  auto wrong =
      standalone("wrong", {"--cluster-ca", ca_.cert().string(), "--tls-client-cert",
                           foreign.cert.string(), "--tls-client-key", foreign.key.string()});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.output;
  auto member = standalone("member", {"--cluster-ca", ca_.cert().string(), "--tls-client-cert",
                                      node.cert.string(), "--tls-client-key", node.key.string()});
  ASSERT_EQ(member.exit_code, 0) << member.output;
  EXPECT_EQ(sha256_file(dir_ / "out" / "member"), want());
  EXPECT_FALSE(fs::exists(dir_ / "out" / "none"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / "wrong"));
}

TEST_F(cluster_tls_test, SighupReloadsTheCertificateAndABadOneKeepsTheOld) {
  start_supernode();
  ASSERT_EQ(standalone("before", {"--cluster-ca", ca_.cert().string()}).exit_code, 0);
  // The operator renews the certificate in place, from another CA.
  auto renewed = stranger_ca_.issue("renewed", {"IP:127.0.0.1"});
  fs::copy_file(renewed.cert, supernode_id_.cert, fs::copy_options::overwrite_existing);
  fs::copy_file(renewed.key, supernode_id_.key, fs::copy_options::overwrite_existing);
  // Before the signal the running supernode still shows the old one.
  ASSERT_EQ(standalone("unsignalled", {"--cluster-ca", ca_.cert().string()}).exit_code, 0);
  supernode_->signal(SIGHUP);
  std::string log;
  for (int i = 0; i < 100 && log.find("TLS certificate reloaded") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
    log = supernode_->log();
  }
  ASSERT_NE(log.find("TLS certificate reloaded"), std::string::npos) << log;
  EXPECT_EQ(standalone("old-ca", {"--cluster-ca", ca_.cert().string()}).exit_code, 3);
  auto renewed_ok = standalone("new-ca", {"--cluster-ca", stranger_ca_.cert().string()});
  EXPECT_EQ(renewed_ok.exit_code, 0) << renewed_ok.output;
  // A broken file on the next reload keeps the renewed certificate serving.
  std::ofstream(supernode_id_.key, std::ios::trunc) << "not a key\n";
  supernode_->signal(SIGHUP);
  for (int i = 0; i < 100 && log.find("TLS reload failed") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
    log = supernode_->log();
  }
  EXPECT_NE(log.find("TLS reload failed"), std::string::npos) << log;
  EXPECT_EQ(standalone("still", {"--cluster-ca", stranger_ca_.cert().string()}).exit_code, 0);
  EXPECT_TRUE(supernode_->running());
}

TEST_F(cluster_tls_test, AFleetServingTlsReplicatesOverTlsAndTakesOver) {
  // Three supernodes serving HTTPS replicate to each other over TLS, each
  // checking the others' certificates against the cluster CA.
  std::vector<std::uint16_t> ports{free_port(), free_port(), free_port()};
  std::string fleet;
  for (auto p : ports)
    fleet += (fleet.empty() ? "" : ",") + std::string("https://127.0.0.1:") + std::to_string(p);
  std::vector<std::unique_ptr<supernode_server>> fleet_nodes;
  for (std::size_t i = 0; i < ports.size(); ++i)
    fleet_nodes.push_back(std::make_unique<supernode_server>(
        dir_ / ("cache" + std::to_string(i)), dir_ / "logs",
        std::vector<std::string>{
            "--token-file", token_file_.string(), "--tls-cert", supernode_id_.cert.string(),
            "--tls-key", supernode_id_.key.string(), "--cluster-ca", ca_.cert().string(), "--fleet",
            fleet, "--identity-key-file", (dir_ / "fleet.key").string(), "--piece-size", "1M"},
        ports[i]));
  auto fetch = [&](const std::string& name) {
    return run_dfget({origin_->url("f.bin"), "-O", (dir_ / "out" / name).string(), "--standalone",
                      "--no-back-source", "--supernode", fleet, "--token-file",
                      token_file_.string(), "--cluster-ca", ca_.cert().string()},
                     dir_ / "logs", 60s);
  };
  auto first = fetch("a");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto metrics_of = [&](std::size_t i) {
    return curl_tls("https://127.0.0.1:" + std::to_string(ports[i]) + "/metrics").output;
  };
  std::size_t owner = ports.size();
  for (std::size_t i = 0; i < ports.size(); ++i)
    if (metric(metrics_of(i), "damselfly_supernode_tasks") == 1) owner = i;
  ASSERT_LT(owner, ports.size()) << "no supernode holds the task";
  // The other two hold all 12 digests of the owner's 12 pieces.
  for (std::size_t i = 0; i < ports.size(); ++i) {
    if (i == owner) continue;
    double held = 0;
    for (int k = 0; k < 50 && held != 12; ++k) {
      held = metric(metrics_of(i), "damselfly_supernode_replica_digests");
      if (held != 12) std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(held, 12) << "supernode " << i << " did not get the owner's digests over TLS";
  }
  fleet_nodes[owner]->kill();
  auto second = fetch("b");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(sha256_file(dir_ / "out" / "b"), want());
  double takeovers = 0;
  for (std::size_t i = 0; i < ports.size(); ++i)
    if (i != owner) takeovers += metric(metrics_of(i), "damselfly_supernode_takeovers_total");
  EXPECT_EQ(takeovers, 1);
}

TEST_F(cluster_tls_test, AFleetServingTlsWithoutTheClusterCaIsRefusedAtStart) {
  // It could not check its fleet's certificates: replicas would never go out.
  auto r = run(
      {supernode_binary(), "--listen", "127.0.0.1:0", "--data-dir", (dir_ / "x").string(),
       "--token-file", token_file_.string(), "--tls-cert", supernode_id_.cert.string(), "--tls-key",
       supernode_id_.key.string(), "--fleet", "https://127.0.0.1:1,https://127.0.0.1:2"},
      20s, dir_ / "logs" / "refused.log");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--cluster-ca"), std::string::npos) << r.output;
}
