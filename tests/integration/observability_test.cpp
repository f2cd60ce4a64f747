// SPDX-License-Identifier: Apache-2.0
// A real Prometheus scrapes a swarm; promtool checks every /metrics page and the shipped rules.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/process.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint64_t size = 24u << 20;
constexpr std::uint64_t piece = 128u << 10;
constexpr int daemon_count = 3;
const fs::path source_dir = DAMSELFLY_SOURCE_DIR;

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// A Grafana expression as Prometheus would get it from the dashboard.
std::string expand_grafana(std::string expr) {
  for (auto [from, to] : {std::pair{"$__rate_interval", "1m"},
                          {"$__range", "5m"},
                          {"$supernode_job", "damselfly-supernode"},
                          {"$dfget_job", "damselfly-dfget"}}) {
    for (auto at = expr.find(from); at != std::string::npos; at = expr.find(from))
      expr.replace(at, std::string(from).size(), to);
  }
  return expr;
}

/// The supernode and three daemons (all with the cluster token) share a
/// file; the supernode's upload cap makes the daemons serve each other.
class observability_test : public workspace_test {
 protected:
  observability_test() : workspace_test("damselfly-observability") {
    make_file(dir_ / "www" / "pkg.deb", size, 21);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    token_file_ = write_secret(dir_ / "cluster.token", "0b5e7ab1e0b5e7ab1e0b5e7ab1e0b5e7");
    supernode_ = std::make_unique<supernode_server>(
        dir_ / "cache", dir_ / "logs",
        std::vector<std::string>{"--token-file", token_file_.string(), "--piece-size", "128K",
                                 "--upload-rate", "8M"});
    for (int i = 0; i < daemon_count; ++i)
      daemons_.push_back(std::make_unique<daemon_server>(
          2 + i, supernode_->address(), dir_.path(),
          std::vector<std::string>{"--token-file", token_file_.string(), "--upload-rate", "8M"}));
  }
  void TearDown() override {
    expect_no_sanitizer_report(supernode_->log());
    for (const auto& d : daemons_) expect_no_sanitizer_report(d->log());
  }
  /// Every daemon downloads the file; all exit 0 with the right bytes.
  void run_swarm() {
    std::vector<std::unique_ptr<process>> clients;
    for (int i = 0; i < daemon_count; ++i)
      clients.push_back(
          daemons_[i]->start_client(origin_->url("pkg.deb"), dir_ / ("out" + std::to_string(i))));
    auto want = sha256_file(dir_ / "www" / "pkg.deb");
    for (int i = 0; i < daemon_count; ++i) {
      auto status = clients[i]->wait(120s);
      ASSERT_EQ(status, std::optional<int>(0)) << clients[i]->output();
      ASSERT_EQ(sha256_file(dir_ / ("out" + std::to_string(i))), want);
    }
  }
  /// A Prometheus of its own: 1 s scrapes of the supernode (job
  /// damselfly-supernode) and the daemons (damselfly-dfget), the shipped
  /// alert rules evaluated every second.
  void start_prometheus() {
    prom_port_ = free_port();
    auto config = dir_ / "prometheus.yml";
    std::ofstream out(config);
    out << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "rule_files:\n  - " << (source_dir / "deploy/prometheus/alerts.yml").string() << "\n"
        << "scrape_configs:\n"
        << "  - job_name: damselfly-supernode\n    static_configs:\n      - targets: ['"
        << supernode_->address() << "']\n"
        << "  - job_name: damselfly-dfget\n    static_configs:\n      - targets: [";
    for (int i = 0; i < daemon_count; ++i)
      out << (i ? ", " : "") << "'" << daemons_[i]->ip() << ":" << daemons_[i]->port() << "'";
    out << "]\n";
    out.close();
    prometheus_ = std::make_unique<process>(
        std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + config.string(),
                                 "--storage.tsdb.path=" + (dir_ / "tsdb").string(),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(prom_port_),
                                 "--log.level=warn"},
        dir_ / "logs" / "prometheus.log");
    for (int i = 0; i < 300; ++i) {
      if (http_get(prom_port_, "/-/ready").status == 200) return;
      ASSERT_TRUE(prometheus_->running()) << prometheus_->output();
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "Prometheus did not become ready: " << prometheus_->output();
  }
  /// The `data.result` of an instant query (asserting the query succeeded).
  json query(const std::string& expr) {
    auto resp = http_get(prom_port_, "/api/v1/query?query=" + url_encode(expr));
    EXPECT_EQ(resp.status, 200) << expr << "\n" << resp.body;
    auto body = json::parse(resp.decoded_body(), nullptr, false);
    if (body.is_discarded() || body.value("status", "") != "success") {
      ADD_FAILURE() << expr << ": " << resp.body;
      return json::array();
    }
    return body["data"]["result"];
  }
  /// The value of a query that yields one sample (NaN when none).
  double scalar(const std::string& expr) {
    auto r = query(expr);
    if (!r.is_array() || r.size() != 1) return std::nan("");
    return std::stod(r[0]["value"][1].get<std::string>());
  }
  /// Polls `expr` (one sample) until it reaches `at_least`, at most 60 s.
  double wait_for(const std::string& expr, double at_least) {
    double v = std::nan("");
    for (int i = 0; i < 120; ++i) {
      v = scalar(expr);
      if (v >= at_least) break;
      std::this_thread::sleep_for(500ms);
    }
    return v;
  }

  std::unique_ptr<origin_server> origin_;
  fs::path token_file_;
  std::unique_ptr<supernode_server> supernode_;
  std::vector<std::unique_ptr<daemon_server>> daemons_;
  std::unique_ptr<process> prometheus_;
  std::uint16_t prom_port_ = 0;
};

TEST_F(observability_test, EveryMetricsPagePassesPromtoolAndHasItsHistograms) {
  run_swarm();
  std::vector<std::pair<std::string, std::string>> pages{{"supernode", supernode_->metrics()}};
  for (int i = 0; i < daemon_count; ++i)
    pages.emplace_back("daemon " + daemons_[i]->ip(), daemons_[i]->metrics());
  for (const auto& [who, text] : pages) {
    auto file = dir_ / "metrics.txt";
    std::ofstream(file) << text;
    auto r = run({"/bin/sh", "-c", "promtool check metrics < " + file.string()}, 30s,
                 dir_ / "logs" / "promtool.log");
    EXPECT_EQ(r.exit_code, 0) << who << ": " << r.output;
    EXPECT_EQ(r.output, "") << who;
  }
  // Durations are histograms, and the swarm filled them.
  const auto& sn = pages[0].second;
  EXPECT_NE(sn.find("# TYPE damselfly_supernode_sync_duration_seconds histogram"),
            std::string::npos);
  EXPECT_GT(metric(sn, "damselfly_supernode_sync_duration_seconds_count"), 0);
  EXPECT_EQ(metric(sn, R"(damselfly_supernode_sync_duration_seconds_bucket{le="+Inf"})"),
            metric(sn, "damselfly_supernode_sync_duration_seconds_count"));
  double fetched = 0;
  for (int i = 0; i < daemon_count; ++i) {
    const auto& page = pages[1 + i].second;
    EXPECT_NE(page.find("# TYPE damselfly_daemon_piece_fetch_duration_seconds histogram"),
              std::string::npos);
    for (const char* from : {"peer", "supernode"})
      fetched +=
          metric(page, std::string("damselfly_daemon_piece_fetch_duration_seconds_count{from=\"") +
                           from + "\"}");
    EXPECT_GT(metric(page, "damselfly_daemon_cache_disk_size_bytes"),
              metric(page, "damselfly_daemon_cache_disk_free_bytes"));
    EXPECT_GT(metric(page, "damselfly_daemon_cache_disk_free_bytes"), 0);
  }
  // One observation per verified piece on every node.
  EXPECT_GE(fetched, static_cast<double>(daemon_count * (size / piece)));
  EXPECT_GT(metric(sn, "damselfly_supernode_cache_disk_free_bytes"), 0);
}

TEST_F(observability_test, ShippedAlertRulesPassPromtoolAndTheirUnitTests) {
  auto rules = source_dir / "deploy/prometheus/alerts.yml";
  auto check =
      run({"/usr/bin/promtool", "check", "rules", rules.string()}, 30s, dir_ / "logs" / "p.log");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("SUCCESS: 7 rules found"), std::string::npos) << check.output;
  auto tests = run({"/usr/bin/promtool", "test", "rules",
                    (source_dir / "deploy/prometheus/alerts_test.yml").string()},
                   60s, dir_ / "logs" / "t.log");
  EXPECT_EQ(tests.exit_code, 0) << tests.output;
  EXPECT_NE(tests.output.find("SUCCESS"), std::string::npos) << tests.output;
  auto config = run({"/usr/bin/promtool", "check", "config", "--syntax-only",
                     (source_dir / "deploy/prometheus/prometheus.yml").string()},
                    30s, dir_ / "logs" / "c.log");
  EXPECT_EQ(config.exit_code, 0) << config.output;
}

TEST_F(observability_test, APrometheusScrapingTheSwarmFindsWhatTheDashboardAndAlertsAskFor) {
  start_prometheus();
  // Every target scraped once before the swarm: what it moves is an increase.
  ASSERT_EQ(wait_for(R"(count(up{job=~"damselfly-.*"} == 1))", 1.0 + daemon_count),
            1.0 + daemon_count);
  run_swarm();
  // Scraped after every node finished: the byte counters cover the whole file per node.
  double delivered = wait_for("sum(damselfly_daemon_download_bytes_total)", 3.0 * size);
  ASSERT_GE(delivered, 3.0 * size);
  // rate() wants two samples in its window: a few more scrapes of every node.
  EXPECT_GE(wait_for("min(count_over_time(damselfly_daemon_upload_bytes_total[1m]))", 4), 4);

  // The byte counters with their labels.
  std::set<std::string> sources;
  for (const auto& s : query("sum by (from) (damselfly_daemon_download_bytes_total)"))
    if (std::stod(s["value"][1].get<std::string>()) > 0) sources.insert(s["metric"]["from"]);
  EXPECT_TRUE(sources.contains("peer")) << "no bytes between peers";
  EXPECT_TRUE(sources.contains("supernode"));
  double origin = scalar("sum(damselfly_supernode_source_bytes_total)");
  EXPECT_GE(origin, static_cast<double>(size));
  EXPECT_LE(origin, 1.02 * size);
  EXPECT_GT(scalar(R"(sum(damselfly_supernode_assignments_total{source="peer"}))"), 0);
  EXPECT_EQ(query(R"(damselfly_supernode_assignments_total)").size(),
            2u);  // source="peer"|"supernode"
  EXPECT_EQ(query(R"(damselfly_daemon_piece_failures_total{job="damselfly-dfget"})").size(),
            3u * daemon_count);  // reason="bad_digest"|"unreachable"|"error" on each node
  EXPECT_GT(scalar("sum(damselfly_supernode_registrations_total)"), 0);

  // Histograms, as Grafana reads them.
  double p50 = scalar(
      "histogram_quantile(0.5, sum by (le) "
      "(increase(damselfly_daemon_piece_fetch_duration_seconds_bucket[5m])))");
  EXPECT_GT(p50, 0);
  EXPECT_LT(p50, 30);
  EXPECT_GT(scalar("sum(damselfly_supernode_sync_duration_seconds_count)"), 0);

  // Every query of the shipped Grafana dashboard runs and returns series.
  std::ifstream in(source_dir / "deploy/grafana/damselfly.json");
  auto dashboard = json::parse(in);
  int exprs = 0;
  for (const auto& panel : dashboard["panels"]) {
    if (!panel.contains("targets")) continue;
    for (const auto& target : panel["targets"]) {
      auto expr = expand_grafana(target["expr"].get<std::string>());
      ++exprs;
      EXPECT_FALSE(query(expr).empty()) << panel["title"] << ": " << expr;
    }
  }
  EXPECT_GE(exprs, 15);

  // The shipped alert rules are loaded and healthy; none fires on a healthy swarm.
  auto rules = json::parse(http_get(prom_port_, "/api/v1/rules").decoded_body());
  std::set<std::string> alerts;
  for (const auto& group : rules["data"]["groups"])
    for (const auto& rule : group["rules"]) {
      EXPECT_EQ(rule["health"], "ok") << rule["name"] << ": " << rule.value("lastError", "");
      alerts.insert(rule["name"]);
    }
  EXPECT_EQ(alerts.size(), 7u);
  EXPECT_TRUE(alerts.contains("DamselflySupernodeDown"));
  EXPECT_TRUE(query(R"(ALERTS{alertname=~"Damselfly.*"})").empty())
      << query(R"(ALERTS{alertname=~"Damselfly.*"})").dump();

  // The supernode dies: its alert goes pending (it fires after its minute).
  supernode_->kill();
  bool pending = false;
  for (int i = 0; i < 60 && !pending; ++i) {
    pending = !query(R"(ALERTS{alertname="DamselflySupernodeDown",alertstate="pending"})").empty();
    if (!pending) std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(pending) << "no pending DamselflySupernodeDown alert 30 s after the kill";
}

}  // namespace
