// SPDX-License-Identifier: Apache-2.0
// Prometheus rendering and YAML config files feeding CLI11 options.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <fstream>

#include "damselfly/common/metrics.hpp"
#include "damselfly/common/yaml_config.hpp"
#include "damselfly/test_support/temp_dir.hpp"

using namespace damselfly;

TEST(Metrics, RendersFamiliesWithLabels) {
  metrics_registry m;
  m.counter("x_bytes_total", "Bytes", R"(from="peer")").add(5);
  m.counter("x_bytes_total", "Bytes", R"(from="origin")").add(7);
  m.gauge("x_tasks", "Tasks").set(3);
  auto text = m.render();
  EXPECT_NE(text.find("# TYPE x_bytes_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("x_bytes_total{from=\"peer\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("x_bytes_total{from=\"origin\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE x_tasks gauge\nx_tasks 3\n"), std::string::npos);
  EXPECT_THROW(m.gauge("x_bytes_total", "Bytes"), std::logic_error);
}

TEST(Metrics, HistogramBucketsAreCumulativeAndAgreeWithTheCount) {
  using namespace std::chrono_literals;
  metrics_registry m;
  auto& h = m.histogram("x_fetch_duration_seconds", "Fetch time", {0.01, 0.1, 1}, R"(from="peer")");
  h.observe(5ms);
  h.observe(10ms);  // on a bound: counted in that bound's bucket ("le")
  h.observe(50ms);
  h.observe(3s);
  auto text = m.render();
  EXPECT_NE(text.find("# TYPE x_fetch_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find(R"(x_fetch_duration_seconds_bucket{from="peer",le="0.01"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(x_fetch_duration_seconds_bucket{from="peer",le="0.1"} 3)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(x_fetch_duration_seconds_bucket{from="peer",le="1"} 3)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(x_fetch_duration_seconds_bucket{from="peer",le="+Inf"} 4)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(x_fetch_duration_seconds_sum{from="peer"} 3.065)"), std::string::npos);
  EXPECT_NE(text.find(R"(x_fetch_duration_seconds_count{from="peer"} 4)"), std::string::npos);
  EXPECT_EQ(h.count(), 4u);
  // The same series again is the same histogram; other buckets for it are a bug.
  EXPECT_EQ(
      &m.histogram("x_fetch_duration_seconds", "Fetch time", {0.01, 0.1, 1}, R"(from="peer")"), &h);
  EXPECT_THROW(m.histogram("x_fetch_duration_seconds", "Fetch time", {1, 2}, R"(from="peer")"),
               std::logic_error);
  EXPECT_THROW(m.counter("x_fetch_duration_seconds", "Fetch time"), std::logic_error);
  EXPECT_THROW(histogram({1, 0.5}), std::logic_error);
}

TEST(Metrics, UnlabelledHistogramHasOnlyTheBucketLabel) {
  metrics_registry m;
  m.histogram("y_seconds", "Y", {1}).observe(std::chrono::milliseconds(1500));
  auto text = m.render();
  EXPECT_NE(text.find("y_seconds_bucket{le=\"1\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("y_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("y_seconds_sum 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("y_seconds_count 1\n"), std::string::npos);
}

namespace {

struct app_fixture {
  CLI::App app{"t"};
  std::string listen = "0.0.0.0:1";
  std::string dir = "/default";
  std::vector<std::string> nodes;
  unsigned parallel = 8;
  app_fixture() {
    app.add_option("--listen", listen);
    app.add_option("--data-dir", dir);
    app.add_option("--node", nodes);
    app.add_option("--parallel", parallel);
    add_yaml_config_option(app);
  }
  void parse(std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());
    app.parse(args);
  }
};

}  // namespace

TEST(YamlConfig, FileValuesApplyAndFlagsWin) {
  test::temp_dir d;
  std::ofstream(d / "c.yaml")
      << "listen: 127.0.0.1:9\ndata_dir: /from/file\nnode: [a:1, b:2]\nparallel: 3\n";
  app_fixture f;
  f.parse({"--config", (d / "c.yaml").string(), "--parallel", "5"});
  EXPECT_EQ(f.listen, "127.0.0.1:9");
  EXPECT_EQ(f.dir, "/from/file");
  EXPECT_EQ(f.nodes, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(f.parallel, 5u);
}

TEST(YamlConfig, BadFilesAreErrors) {
  test::temp_dir d;
  std::ofstream(d / "bad.yaml") << "listen: [unclosed\n";
  std::ofstream(d / "list.yaml") << "- a\n- b\n";
  std::ofstream(d / "unknown.yaml") << "no_such_option: 1\n";
  for (const char* name : {"bad.yaml", "list.yaml", "unknown.yaml", "missing.yaml"}) {
    app_fixture f;
    EXPECT_THROW(f.parse({"--config", (d / name).string()}), CLI::ParseError) << name;
  }
}

TEST(YamlConfig, WritesBackWhatItReads) {
  app_fixture f;
  f.parse({"--listen", "1.2.3.4:5", "--node", "x:1"});
  auto text = f.app.config_to_str(false, false);
  EXPECT_NE(text.find("listen: 1.2.3.4:5"), std::string::npos) << text;
  EXPECT_NE(text.find("node:"), std::string::npos) << text;
}
