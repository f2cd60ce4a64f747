// SPDX-License-Identifier: Apache-2.0
// The dashboard at /ui/ in a real browser (headless Chromium) during a running swarm.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* cluster_token = "c1a55e7c0ffee0ddba11f00dfeedbeef";
constexpr const char* admin_token = "ad41e7a1b2c3d4e5f60718293a4b5c6d";
constexpr std::uint64_t size = 16u << 20;
constexpr std::uint64_t piece = 256u << 10;

std::string auth(const char* token) {
  return bearer_header(token);
}

/// How many times `needle` occurs in `text`.
std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

/// Every value of attribute `name` in the serialized DOM, in document order.
std::vector<std::string> attribute_values(const std::string& dom, const std::string& name) {
  std::vector<std::string> out;
  std::regex re(" " + name + "=\"([^\"]*)\"");
  for (std::sregex_iterator it(dom.begin(), dom.end(), re), end; it != end; ++it)
    out.push_back((*it)[1]);
  return out;
}

/// An origin serving a file slowly (the swarm is still running while the
/// page is looked at), a supernode with both tokens, three daemons
/// downloading the file.
class dashboard_test : public workspace_test {
 protected:
  dashboard_test() : workspace_test("damselfly-dashboard") {
    make_file(dir_ / "www" / "pkg.deb", size, 9);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    cluster_file_ = write_secret(dir_ / "cluster.token", cluster_token);
    admin_file_ = write_secret(dir_ / "admin.token", admin_token);
    supernode_ = std::make_unique<supernode_server>(
        dir_ / "cache", dir_ / "logs",
        std::vector<std::string>{"--token-file", cluster_file_.string(), "--admin-token-file",
                                 admin_file_.string(), "--piece-size", "256K"});
  }
  void TearDown() override {
    expect_no_sanitizer_report(supernode_->log());
    for (const auto& d : daemons_) expect_no_sanitizer_report(d->log());
  }
  /// Three daemons (IDC east, one rack each) start downloading the file, which
  /// the origin sends at 256 KiB/s per connection; returns once the supernode lists all three
  /// hosts and a piece held by a peer (bounded: 30 s).
  void start_swarm() {
    for (int i = 0; i < 3; ++i) {
      daemons_.push_back(std::make_unique<daemon_server>(
          2 + i, supernode_->address(), dir_.path(),
          std::vector<std::string>{"--token-file", cluster_file_.string(), "--idc", "east",
                                   "--location", "eu|east-1|rack" + std::to_string(i)}));
      clients_.push_back(daemons_.back()->start_client(origin_->url("pkg.deb", "slow=262144"),
                                                       dir_ / ("out" + std::to_string(i))));
    }
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto hosts = get_json("/api/v1/hosts");
      auto tasks = get_json("/api/v1/tasks");
      if (hosts["hosts"].size() == 3 && tasks["tasks"].size() == 1) {
        task_id_ = tasks["tasks"][0]["task_id"];
        auto map = get_json("/api/v1/tasks/" + task_id_ + "/pieces");
        for (const auto& h : map["holders"])
          if (h.get<int>() > 0) return;
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "the swarm did not start within 30 s";
  }
  json get_json(const std::string& target) {
    auto r = http_get(supernode_->port(), target, auth(admin_token));
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  /// Chromium, headless, on the supernode's `path`: what it printed on
  /// stdout (the DOM with --dump-dom). Only this supernode is reached: the
  /// browser's own background traffic is switched off.
  std::string browse(const std::string& path, const std::vector<std::string>& mode) {
    std::vector<std::string> argv{"chromium",
                                  "--headless",
                                  "--no-sandbox",  // tests run as root
                                  "--disable-gpu",
                                  "--no-first-run",
                                  "--disable-background-networking",
                                  "--disable-component-update",
                                  "--disable-default-apps",
                                  "--disable-extensions",
                                  "--disable-sync",
                                  "--disable-domain-reliability",
                                  "--no-pings",
                                  "--user-data-dir=" + (dir_ / "chromium").string(),
                                  "--window-size=1280,1100",
                                  "--virtual-time-budget=6000"};
    argv.insert(argv.end(), mode.begin(), mode.end());
    argv.push_back("http://127.0.0.1:" + std::to_string(supernode_->port()) + path);
    std::string cmd;
    for (const auto& a : argv) cmd += "'" + a + "' ";
    // stderr (the browser's log lines) kept apart from the DOM.
    auto r = run({"/bin/sh", "-c", cmd + "2>>'" + (dir_ / "logs" / "chromium.err").string() + "'"},
                 90s, dir_ / "logs" / "chromium.log");
    EXPECT_EQ(r.exit_code, 0) << "is Debian's chromium installed (scripts/setup.sh test)? "
                              << read_text(dir_ / "logs" / "chromium.err");
    return r.output;
  }
  std::string dump_dom(const std::string& path) { return browse(path, {"--dump-dom"}); }

  std::unique_ptr<origin_server> origin_;
  fs::path cluster_file_, admin_file_;
  std::unique_ptr<supernode_server> supernode_;
  std::vector<std::unique_ptr<daemon_server>> daemons_;
  std::vector<std::unique_ptr<process>> clients_;
  std::string task_id_;
};

}  // namespace

TEST_F(dashboard_test, TheBrowserShowsTheTaskItsPeersAndTheHeatMapOfARunningSwarm) {
  start_swarm();
  ASSERT_FALSE(task_id_.empty());
  // A release pipeline has every daemon preheat the same file meanwhile.
  auto job = post_json(
      supernode_->port(), "/api/v1/jobs",
      json{{"url", origin_->url("pkg.deb", "slow=262144")}, {"scope", "all_peers"}}.dump(),
      auth(admin_token));
  ASSERT_EQ(job.status, 201) << job.body;
  auto job_id = json::parse(job.body)["id"].get<std::string>();
  auto hosts = get_json("/api/v1/hosts");
  auto dom = dump_dom("/ui/#token=" + std::string(admin_token) + "&refresh=500");
  ASSERT_NE(dom.find("<html"), std::string::npos) << dom;

  // The page drew from the API at least once, and says no error.
  auto refreshes = attribute_values(dom, "data-refreshes");
  ASSERT_EQ(refreshes.size(), 1u) << dom;
  EXPECT_GE(std::stoi(refreshes[0]), 1) << dom;
  EXPECT_EQ(count(dom, "class=\"error\""), 0u) << dom;
  // The task, in the task table, selected for the heat map.
  EXPECT_EQ(attribute_values(dom, "data-task-id"), (std::vector<std::string>{task_id_, task_id_}))
      << dom;
  // Its source without the query, which may hold a signed URL's credentials.
  EXPECT_NE(dom.find(origin_->url("pkg.deb") + "?…"), std::string::npos) << dom;
  EXPECT_EQ(dom.find("slow=262144"), std::string::npos) << dom;
  // Still being fetched while the page was looked at.
  EXPECT_NE(dom.find("<td class=\"phase-fetching\""), std::string::npos) << dom;
  // Its peers: each daemon the supernode knows, with its IDC and location.
  std::set<std::string> shown;
  for (const auto& h : attribute_values(dom, "data-host")) shown.insert(h);
  std::set<std::string> known;
  for (const auto& h : hosts["hosts"]) known.insert(h["host"].get<std::string>());
  EXPECT_EQ(known.size(), 3u);
  EXPECT_EQ(shown, known) << dom;
  for (int i = 0; i < 3; ++i)
    EXPECT_NE(dom.find("<td>eu|east-1|rack" + std::to_string(i) + "</td>"), std::string::npos)
        << dom;
  EXPECT_GE(count(dom, "<td>east</td>"), 3u) << dom;
  // The job, with a row per host it covers (each host shown twice in all:
  // once among the hosts, once in the job).
  EXPECT_EQ(attribute_values(dom, "data-job-id"), std::vector<std::string>{job_id}) << dom;
  EXPECT_EQ(attribute_values(dom, "data-host").size(), 6u) << dom;
  // The heat map: one cell per piece, holders per piece as the API says
  // them, some piece held by a peer.
  auto pieces = attribute_values(dom, "data-pieces");
  ASSERT_EQ(pieces, (std::vector<std::string>{std::to_string(size / piece)})) << dom;
  auto holders = attribute_values(dom, "data-holders");
  ASSERT_EQ(holders.size(), size / piece) << dom;
  EXPECT_TRUE(std::any_of(holders.begin(), holders.end(), [](const std::string& h) {
    return std::stoi(h) > 0;
  })) << dom;
  for (const auto& h : holders) EXPECT_LE(std::stoi(h), 3) << dom;
  auto indexes = attribute_values(dom, "data-piece");
  ASSERT_EQ(indexes.size(), size / piece);
  EXPECT_EQ(indexes.front(), "0");
  EXPECT_EQ(indexes.back(), std::to_string(size / piece - 1));

  // The docs' screenshot comes from here (DAMSELFLY_DASHBOARD_SCREENSHOT=docs/dashboard.png).
  const char* keep = std::getenv("DAMSELFLY_DASHBOARD_SCREENSHOT");
  auto shot = keep ? fs::absolute(keep) : dir_ / "dashboard.png";
  browse("/ui/#token=" + std::string(admin_token), {"--screenshot=" + shot.string()});
  auto png = read_text(shot);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");

  for (auto& c : clients_) EXPECT_EQ(c->wait(60s), std::optional<int>(0));
}

TEST_F(dashboard_test, WithoutTheAdminTokenThePageShowsNothingButTheLoginForm) {
  start_swarm();
  // No token, a wrong one, and the cluster token every node holds.
  for (const std::string& fragment :
       {std::string(), std::string("#token=not-the-admin-token-at-all"),
        "#token=" + std::string(cluster_token)}) {
    auto dom = dump_dom("/ui/" + fragment);
    ASSERT_NE(dom.find("<html"), std::string::npos) << dom;
    EXPECT_NE(dom.find("<form id=\"login\">"), std::string::npos) << fragment << dom;
    EXPECT_NE(dom.find("<main id=\"board\" hidden=\"\">"), std::string::npos) << fragment << dom;
    EXPECT_EQ(dom.find(task_id_), std::string::npos) << fragment << dom;
    EXPECT_TRUE(attribute_values(dom, "data-host").empty()) << fragment << dom;
  }
  // The JSON the page reads answers to the admin token only.
  for (const std::string& target : {std::string("/api/v1/tasks"), std::string("/api/v1/hosts"),
                                    "/api/v1/tasks/" + task_id_ + "/pieces"}) {
    EXPECT_EQ(http_get(supernode_->port(), target).status, 401) << target;
    EXPECT_EQ(http_get(supernode_->port(), target, auth(cluster_token)).status, 401) << target;
    EXPECT_EQ(http_get(supernode_->port(), target, auth(admin_token)).status, 200) << target;
  }
}

TEST_F(dashboard_test, AttackMarkupInAHostsHeartbeatIsShownAsTextNeverRun) {
  start_swarm();
  // A cluster-token holder describes itself with markup and script: as the
  // IDC and location of a heartbeat, which the dashboard shows.
  const std::string idc = "<img id=\"planted\" src=\"/x\" onerror=\"document.title='owned'\">";
  const std::string location = "<script id=\"planted-script\">document.title='owned'</script>";
  json hb{{"upload_addr", "127.0.0.9:1"},
          {"tasks", json::array()},
          {"idc", idc},
          {"location", location}};
  auto r = post_json(supernode_->port(), "/api/v1/hosts/intruder/heartbeat", hb.dump(),
                     auth(cluster_token));
  ASSERT_EQ(r.status, 200) << r.body;
  auto dom = dump_dom("/ui/#token=" + std::string(admin_token));
  // The host is listed, its words as text: no element came from them.
  EXPECT_NE(dom.find("data-host=\"intruder\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("&lt;img id=\"planted\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("&lt;script id=\"planted-script\"&gt;"), std::string::npos) << dom;
  EXPECT_EQ(dom.find("<img"), std::string::npos) << dom;
  EXPECT_EQ(count(dom, "<script"), 1u) << dom;  // the page's own app.js
  EXPECT_NE(dom.find("<title>Damselfly supernode</title>"), std::string::npos) << dom;
}

TEST_F(dashboard_test, ThePageIsServedWithAPolicyThatRunsOnlyItsOwnScript) {
  for (const char* path : {"/ui", "/ui/", "/ui/index.html", "/ui/app.js", "/ui/app.css"}) {
    auto r = http_get(supernode_->port(), path);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_TRUE(
        r.header("Content-Security-Policy").starts_with("default-src 'none'; script-src 'self';"))
        << path << r.head;
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff") << path;
  }
  EXPECT_EQ(http_get(supernode_->port(), "/ui/../../etc/passwd").status, 404);
  EXPECT_EQ(http_get(supernode_->port(), "/ui/secret.txt").status, 404);
  // The page itself names no other server: no external scripts, styles or fonts.
  auto page = http_get(supernode_->port(), "/ui/").body +
              http_get(supernode_->port(), "/ui/app.js").body +
              http_get(supernode_->port(), "/ui/app.css").body;
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find("//cdn"), std::string::npos);
}
