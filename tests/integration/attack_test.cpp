// SPDX-License-Identifier: Apache-2.0
// Attacks on the supernode's API, written as the attack: raw requests with lying numbers.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "damselfly/common/base64.hpp"
#include "damselfly/common/digest.hpp"
#include "damselfly/common/hex.hpp"
#include "damselfly/common/task_id.hpp"
#include "damselfly/test_support/cluster.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/temp_dir.hpp"
#include "damselfly/test_support/test_peer.hpp"
#include "damselfly/test_support/workspace.hpp"

using namespace damselfly::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// A supernode holding one small file (4 pieces of 256 KiB), and an attacker
/// registered for it as a peer.
class supernode_attack_test : public workspace_test {
 protected:
  supernode_attack_test() : workspace_test("damselfly-attack") {}
  void SetUp() override {
    make_file(dir_ / "www" / "f.bin", 1 << 20, 5);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
    supernode_ = std::make_unique<supernode_server>(
        dir_ / "cache", dir_ / "logs", std::vector<std::string>{"--piece-size", "256K"});
    auto answer = post("/api/v1/tasks", register_body(""));
    ASSERT_EQ(answer.status, 200) << answer.body;
    task_id_ = json::parse(answer.body).at("task_id").get<std::string>();
    // The attacker is a registered peer, with its own key: what it sends is
    // what is tried, not whether it may send.
    key_ = json::parse(answer.body).at("peer_key").get<std::string>();
    // Cached whole before the attacks: the origin sees nothing more of the honest task.
    std::string state;
    for (int i = 0; i < 200 && state != "done"; ++i) {
      auto status = http_get(supernode_->port(), "/api/v1/tasks/" + task_id_);
      state = json::parse(status.body).value("state", "");
      if (state != "done") std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(state, "done");
    rss_before_ = supernode_->rss();
  }
  void TearDown() override { expect_no_sanitizer_report(supernode_->log()); }

  std::string register_body(const std::string& bitmap, const json& headers = json()) const {
    json r{{"url", origin_->url("f.bin")}, {"peer_id", "attacker"}};
    if (!bitmap.empty()) r["bitmap"] = bitmap;
    if (!headers.is_null()) r["headers"] = headers;
    return r.dump();
  }
  raw_response post(const std::string& target, const std::string& body) const {
    return post_json(supernode_->port(), target, body, "X-Damselfly-Peer-Key: " + key_ + "\r\n");
  }
  raw_response sync_reporting(const std::string& piece) const {
    std::string body = R"({"results": [{"piece": )" + piece +
                       R"(, "status": "ok", "source": "supernode"}], "want": 0})";
    return post("/api/v1/tasks/" + task_id_ + "/peers/attacker/sync", body);
  }
  /// SHA-256 (hex) of one of the file's 256 KiB pieces, as the origin has it.
  std::string piece_sha256(std::uint64_t piece) const {
    std::ifstream in(dir_ / "www" / "f.bin", std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    damselfly::digest d(damselfly::digest_algo::sha256);
    d.update(std::string_view(data).substr(piece * (256 << 10), 256 << 10));
    return d.finish();
  }
  /// The supernode still answers, and the attack did not make it grow (a
  /// sanitizer build starts bigger, so growth is what is measured).
  void expect_alive_and_small() const {
    EXPECT_TRUE(supernode_->running());
    EXPECT_EQ(http_get(supernode_->port(), "/healthz").status, 200);
    EXPECT_LT(supernode_->rss(), rss_before_ + (32u << 20))
        << "RSS grew from a number in a request";
  }

  std::unique_ptr<origin_server> origin_;
  std::unique_ptr<supernode_server> supernode_;
  std::string task_id_;
  std::string key_;
  std::uint64_t rss_before_ = 0;
};

std::string field_of(const raw_response& r) {
  return json::parse(r.body).at("error").value("field", "");
}

}  // namespace

TEST_F(supernode_attack_test, SyncReportingPieceTwoToTheSixtyFourMinusOneIsRefused) {
  auto r = sync_reporting("18446744073709551615");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field_of(r), "results[0].piece");
  expect_alive_and_small();
}

TEST_F(supernode_attack_test, SyncReportingPiece33554432IsRefusedWithoutGrowing) {
  for (int i = 0; i < 20; ++i) {
    auto r = sync_reporting("33554432");
    ASSERT_EQ(r.status, 400) << r.body;
  }
  expect_alive_and_small();
}

TEST_F(supernode_attack_test, RegistrationClaimingMorePiecesThanTheFileHasIsRefused) {
  auto r = post("/api/v1/tasks", register_body(std::string(500000, '1')));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field_of(r), "bitmap");
  // An honest bitmap of the real size is taken.
  EXPECT_EQ(post("/api/v1/tasks", register_body("1100")).status, 200);
  expect_alive_and_small();
}

TEST_F(supernode_attack_test, HeaderWithCrLfCannotSmuggleASecondRequestToTheOrigin) {
  auto before = origin_->requests();
  auto r = post("/api/v1/tasks",
                register_body("", {{"X-A", "1\r\n\r\nDELETE /smuggled HTTP/1.1\r\nX-B: 2"}}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field_of(r), "headers.X-A");
  EXPECT_EQ(origin_->requests(), before) << "the origin was sent something";
  expect_alive_and_small();
}

TEST_F(supernode_attack_test, HostOrAcceptEncodingCannotPoisonTheCache) {
  for (const char* name : {"Host", "Accept-Encoding", "Range", "If-None-Match"}) {
    auto r = post("/api/v1/tasks", register_body("", {{name, "other"}}));
    EXPECT_EQ(r.status, 400) << name << ": " << r.body;
    EXPECT_EQ(field_of(r), std::string("headers.") + name);
  }
}

TEST_F(supernode_attack_test, DfgetRefusesAFramingHeaderBeforeAnyRequest) {
  auto out = dir_ / "out" / "f.bin";
  auto r = run_dfget({origin_->url("f.bin"), "-O", out.string(), "--supernode",
                      supernode_->address(), "--standalone", "--header", "Host: other-vhost"},
                     dir_ / "logs");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("Host"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(supernode_attack_test, OriginClaimingSixtyFourTebibytesFailsTheTaskWithoutAllocating) {
  // Three registrations of origins whose Content-Range claims 64 TiB.
  for (int i = 0; i < 3; ++i) {
    json r{{"url", origin_->url("f.bin", "claim_size=70368744177664&n=" + std::to_string(i))},
           {"peer_id", "attacker"}};
    auto answer = post("/api/v1/tasks", r.dump());
    ASSERT_EQ(answer.status, 200) << answer.body;
    auto info = json::parse(answer.body);
    EXPECT_EQ(info.at("state"), "failed") << answer.body;
    EXPECT_EQ(info.at("error").at("code"), "origin_too_large") << answer.body;
  }
  expect_alive_and_small();
}

namespace {

/// An origin with one small file and a supernode started with the test's flags.
class supernode_policy_test : public workspace_test {
 protected:
  supernode_policy_test() : workspace_test("damselfly-attack-policy") {
    make_file(dir_ / "www" / "f.bin", 4096, 1);
    origin_ = std::make_unique<origin_server>(dir_ / "www", dir_ / "logs");
  }
  void TearDown() override {
    if (sn_) expect_no_sanitizer_report(sn_->log());
  }
  void start(std::vector<std::string> args) {
    sn_ = std::make_unique<supernode_server>(dir_ / "cache", dir_ / "logs", std::move(args));
  }
  /// Registers for `url`; the task_info answered.
  json register_url(const std::string& url, const std::string& peer = "p") {
    json r{{"url", url}, {"peer_id", peer}};
    auto answer = post_json(sn_->port(), "/api/v1/tasks", r.dump());
    EXPECT_EQ(answer.status, 200) << answer.body;
    return answer.status == 200 ? json::parse(answer.body) : json::object();
  }

  std::unique_ptr<origin_server> origin_;
  std::unique_ptr<supernode_server> sn_;
};

}  // namespace

TEST_F(supernode_policy_test, FailedTasksAreForgotten) {
  start({"--forget-failed-after", "1"});
  auto info = register_url(origin_->url("f.bin", "status=404"));
  ASSERT_EQ(info.value("state", ""), "failed");
  auto target = "/api/v1/tasks/" + info.at("task_id").get<std::string>();
  int status = 200;
  // Housekeeping runs every 5 s; bounded wait.
  for (int i = 0; i < 100 && status == 200; ++i) {
    status = http_get(sn_->port(), target).status;
    if (status == 200) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(status, 404);
}

TEST_F(supernode_policy_test, OriginsTheOperatorDeniesAreNeverFetchedEvenByName) {
  // --origin-deny for loopback: the origin on 127.0.0.1 is refused whether the
  // URL names the address or a host name resolving to it (checked after DNS).
  start({"--origin-deny", "127.0.0.0/8,::1"});
  auto port = std::to_string(origin_->port());
  for (std::string url :
       {"http://127.0.0.1:" + port + "/f.bin", "http://localhost:" + port + "/f.bin"}) {
    auto info = register_url(url);
    EXPECT_EQ(info.value("state", ""), "failed") << url;
    EXPECT_EQ(info["error"].value("code", ""), "origin_forbidden") << info.dump();
  }
  EXPECT_EQ(origin_->requests(), 0u) << "the denied origin was contacted";
}

TEST_F(supernode_policy_test, TheSupernodeWillNotFetchFromItself) {
  start({});
  auto info = register_url("http://127.0.0.1:" + std::to_string(sn_->port()) + "/metrics");
  EXPECT_EQ(info["error"].value("code", ""), "origin_forbidden") << info.dump();
}

TEST_F(supernode_policy_test, OneAddressCannotHoldMoreConnectionsThanItsShare) {
  start({"--max-connections-per-address", "4"});
  std::vector<std::unique_ptr<held_connection>> mine;
  for (int i = 0; i < 4; ++i) {
    // Answered, so accepted and counted before the next one arrives; kept alive.
    mine.push_back(std::make_unique<held_connection>(sn_->port()));
    ASSERT_TRUE(mine.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_NE(mine.back()->read_some(5s).find("200 OK"), std::string::npos);
  }
  held_connection fifth(sn_->port());
  EXPECT_TRUE(fifth.closed_by_server(5s)) << "a fifth connection from one address was kept";
  for (auto& c : mine) EXPECT_FALSE(c->closed_by_server(100ms));
  // The four still work, and once they are gone the address may connect again.
  ASSERT_TRUE(mine[0]->send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_TRUE(mine[0]->closed_by_server(5s));
  mine.clear();
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    status = http_get(sn_->port(), "/healthz").status;
    if (status != 200) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 200);
}

TEST_F(supernode_policy_test, OneAddressCannotStartMoreThanItsShareOfTasks) {
  start({"--max-tasks-per-address", "2"});
  // Origins that send their headers and then nothing: the tasks stay unfinished.
  for (int i = 0; i < 2; ++i)
    register_url(origin_->url("f.bin", "stall_after=0&n=" + std::to_string(i)));
  json third{{"url", origin_->url("f.bin", "stall_after=0&n=2")}, {"peer_id", "p"}};
  auto refused = post_json(sn_->port(), "/api/v1/tasks", third.dump());
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(json::parse(refused.body)["error"].value("code", ""), "too_many_tasks");
  // Joining a task that already runs starts nothing, and is still allowed.
  register_url(origin_->url("f.bin", "stall_after=0&n=0"), "q");
  EXPECT_EQ(http_get(sn_->port(), "/healthz").status, 200);
}

TEST_F(supernode_policy_test, OriginFetchesBeyondTheCapWaitTheirTurn) {
  start({"--max-origin-fetches", "1"});
  auto first = register_url(origin_->url("f.bin", "stall_after=0"));
  EXPECT_EQ(first.value("state", ""), "running") << first.dump();
  auto requests = origin_->requests();
  // The second task waits for the first's slot: the origin hears nothing of it.
  auto second = register_url(origin_->url("f.bin"));
  EXPECT_EQ(second.value("state", ""), "running") << second.dump();
  EXPECT_EQ(second.value("content_length", 0), -1) << second.dump();
  EXPECT_EQ(origin_->requests(), requests);
  auto m = sn_->metrics();
  EXPECT_EQ(metric(m, R"(damselfly_supernode_origin_fetches{state="running"})"), 1) << m;
  EXPECT_EQ(metric(m, R"(damselfly_supernode_origin_fetches{state="queued"})"), 1) << m;
}

TEST_F(supernode_policy_test, PieceRequestsOutsideTheScheduleGetNoMoreThanTheSeedSlots) {
  start({"--seed-slots", "1"});
  make_file(dir_ / "www" / "big.bin", 64 << 20, 2);
  test_peer peer(sn_->port(), json{{"url", origin_->url("big.bin")}, {"peer_id", "p"}}.dump());
  ASSERT_TRUE(peer.ok());
  auto id = peer.task_id();
  std::string state;
  for (int i = 0; i < 200 && state != "done"; ++i) {
    state = json::parse(http_get(sn_->port(), "/api/v1/tasks/" + id).body).value("state", "");
    if (state != "done") std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(state, "done");
  // A client with no assignment asks for the whole file and reads none of it:
  // the upload stays in progress and takes the task's one seed slot.
  auto hog = std::make_unique<held_connection>(sn_->port());
  ASSERT_TRUE(
      hog->send("GET /pieces/" + id + " HTTP/1.1\r\nHost: x\r\n" + peer.piece_headers() + "\r\n"));
  EXPECT_FALSE(hog->read_some(5s).empty());
  auto refused =
      http_get(sn_->port(), "/pieces/" + id, "Range: bytes=0-1023\r\n" + peer.piece_headers());
  EXPECT_EQ(refused.status, 503) << refused.head;
  EXPECT_EQ(refused.header("Retry-After"), "1");
  // Once that upload ends, the slot is free again.
  hog.reset();
  int status = 0;
  for (int i = 0; i < 100 && status != 206; ++i) {
    status =
        http_get(sn_->port(), "/pieces/" + id, "Range: bytes=0-1023\r\n" + peer.piece_headers())
            .status;
    if (status != 206) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 206);
}

namespace {

/// A file behind "Authorization: Bearer s3cret" on the origin.
class private_task_test : public supernode_policy_test {
 protected:
  void SetUp() override {
    start({});
    url_ = origin_->url("f.bin", "auth=s3cret");
  }
  /// Registers for the protected URL with these headers; the answer.
  json register_with(const json& headers, const std::string& peer = "p") {
    json r{{"url", url_}, {"peer_id", peer}};
    if (!headers.is_null()) r["headers"] = headers;
    auto answer = post_json(sn_->port(), "/api/v1/tasks", r.dump());
    EXPECT_EQ(answer.status, 200) << answer.body;
    return answer.status == 200 ? json::parse(answer.body) : json::object();
  }
  std::string wait_state(const std::string& id) {
    std::string state;
    for (int i = 0; i < 200 && (state.empty() || state == "running"); ++i) {
      state = json::parse(http_get(sn_->port(), "/api/v1/tasks/" + id).body).value("state", "");
      if (state == "running") std::this_thread::sleep_for(50ms);
    }
    return state;
  }
  std::string url_;
};

}  // namespace

TEST_F(private_task_test, ContentFetchedWithCredentialsIsServedToNobodyWithoutThem) {
  auto owner = register_with({{"Authorization", "Bearer s3cret"}});
  auto private_id = owner.value("task_id", "");
  ASSERT_EQ(wait_state(private_id), "done");
  // Before: the id was the URL's, anyone could compute it and read /pieces.
  auto public_id = *damselfly::make_task_id({url_, {}, "", "", "", ""});
  EXPECT_NE(private_id, public_id);
  EXPECT_EQ(http_get(sn_->port(), "/pieces/" + public_id).status, 404);

  // A later registrant without credentials gets the URL's own task, which
  // the origin refuses, not the owner's bytes.
  auto stranger = register_with(json());
  EXPECT_EQ(stranger.value("task_id", ""), public_id);
  EXPECT_EQ(wait_state(public_id), "failed");
  EXPECT_EQ(http_get(sn_->port(), "/pieces/" + public_id).status, 404);
  // Nor does a wrong credential, or the right one in another header.
  EXPECT_NE(register_with({{"Authorization", "Bearer guess"}}).value("task_id", ""), private_id);
  EXPECT_NE(register_with({{"Cookie", "Bearer s3cret"}}).value("task_id", ""), private_id);

  // The same credentials, in any letter case of the name, share the task.
  test_peer colleague(
      sn_->port(),
      json{{"url", url_}, {"peer_id", "q"}, {"headers", {{"authorization", "Bearer s3cret"}}}}
          .dump());
  ASSERT_TRUE(colleague.ok());
  EXPECT_EQ(colleague.task_id(), private_id);
  EXPECT_EQ(http_get(sn_->port(), "/pieces/" + private_id,
                     "Range: bytes=0-99\r\n" + colleague.piece_headers())
                .status,
            206);
}

TEST_F(private_task_test, TheKeyOfPrivateIdsIsTheSupernodesOwnAndSurvivesARestart) {
  auto first = register_with({{"Authorization", "Bearer s3cret"}}).value("task_id", "");
  ASSERT_EQ(wait_state(first), "done");
  auto key = dir_ / "cache" / "identity.key";
  ASSERT_TRUE(std::filesystem::exists(key));
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  sn_->restart();
  EXPECT_EQ(register_with({{"Authorization", "Bearer s3cret"}}).value("task_id", ""), first);
}

TEST_F(supernode_attack_test, AStrangerCannotRemoveSyncAsOrTakeOverAnotherPeer) {
  // The victim registers and gets its key; the stranger knows its id (peer
  // ids travel to every source) but not the key.
  json victim{{"url", origin_->url("f.bin")}, {"peer_id", "victim"}};
  auto answer = post_json(supernode_->port(), "/api/v1/tasks", victim.dump());
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto key = json::parse(answer.body).at("peer_key").get<std::string>();
  auto as_victim = "/api/v1/tasks/" + task_id_ + "/peers/victim";

  auto removed =
      raw_http(supernode_->port(),
               "DELETE " + as_victim + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(removed.status, 403) << removed.body;
  auto synced = post_json(supernode_->port(), as_victim + "/sync", R"({"want": 1})");
  EXPECT_EQ(synced.status, 403) << synced.body;
  auto taken = post_json(supernode_->port(), "/api/v1/tasks", victim.dump());
  EXPECT_EQ(taken.status, 403) << taken.body;
  EXPECT_EQ(field_of(taken), "peer_id");
  // A heartbeat naming the victim without its key keeps nothing alive.
  auto beat = post_json(supernode_->port(), "/api/v1/hosts/victim/heartbeat",
                        json{{"tasks", {task_id_}}}.dump());
  ASSERT_EQ(beat.status, 200) << beat.body;
  EXPECT_EQ(json::parse(beat.body).at("unknown_tasks"), json::array({task_id_}));

  // The victim itself, with its key, carries on.
  auto own = post_json(supernode_->port(), as_victim + "/sync", R"({"want": 1})",
                       "X-Damselfly-Peer-Key: " + key + "\r\n");
  EXPECT_EQ(own.status, 200) << own.body;
  auto left = raw_http(supernode_->port(), "DELETE " + as_victim +
                                               " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                               "X-Damselfly-Peer-Key: " +
                                               key + "\r\n\r\n");
  EXPECT_EQ(left.status, 204) << left.body;
}

TEST_F(supernode_attack_test, SyncAnswersLeaveOutTheTaskAndTicketThePeerAlreadyHolds) {
  const std::string sync = "/api/v1/tasks/" + task_id_ + "/peers/attacker/sync";
  // A peer that says nothing of what it holds gets both.
  auto first = post(sync, R"({"want": 0})");
  ASSERT_EQ(first.status, 200) << first.body;
  auto j = json::parse(first.body);
  ASSERT_TRUE(j.contains("task")) << first.body;
  EXPECT_EQ(j["task"]["state"], "done");
  EXPECT_FALSE(j["task"].contains("file_sha256")) << "the whole-file digest stays out of syncs";
  auto ticket = j.value("ticket", "");
  ASSERT_GE(ticket.size(), 16u) << first.body;
  auto version = j["task"]["version"].get<std::string>();
  auto tail = ticket.substr(ticket.size() - 16);
  // One that names the state, version and ticket it holds gets neither.
  json knows{{"want", 0}, {"known_state", "done"}, {"version", version}, {"ticket_tail", tail}};
  auto slim = post(sync, knows.dump());
  ASSERT_EQ(slim.status, 200) << slim.body;
  EXPECT_FALSE(json::parse(slim.body).contains("task")) << slim.body;
  EXPECT_FALSE(json::parse(slim.body).contains("ticket")) << slim.body;
  EXPECT_LT(slim.body.size(), first.body.size() / 3) << slim.body;
  // An older state, or a ticket that is not the current one: sent again.
  knows["known_state"] = "running";
  EXPECT_TRUE(json::parse(post(sync, knows.dump()).body).contains("task"));
  knows["known_state"] = "done";
  knows["ticket_tail"] = std::string(16, 'x');
  EXPECT_EQ(json::parse(post(sync, knows.dump()).body).value("ticket", ""), ticket);
  // A field longer than it can be is refused, naming it.
  knows["ticket_tail"] = std::string(17, 'x');
  auto bad = post(sync, knows.dump());
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("ticket_tail"), std::string::npos) << bad.body;
}

TEST_F(supernode_attack_test, SyncAnswersAreCompactForAPeerThatAsks) {
  const std::string sync = "/api/v1/tasks/" + task_id_ + "/peers/attacker/sync";
  auto digest_of = [&](std::uint64_t piece) { return piece_sha256(piece); };
  // Asked compact: sources once, [piece, source index, base64 digest] each.
  auto compact = post(sync, R"({"want": 2, "compact": true})");
  ASSERT_EQ(compact.status, 200) << compact.body;
  auto j = json::parse(compact.body);
  EXPECT_FALSE(j.contains("assignments")) << compact.body;
  ASSERT_EQ(j.at("pieces").size(), 2u) << compact.body;
  EXPECT_EQ(j.at("sources"), json::array({"supernode"}));
  // The peer knows it asked for JSON: no Content-Type on the supernode's link.
  EXPECT_EQ(compact.head.find("Content-Type"), std::string::npos) << compact.head;
  for (const auto& p : j.at("pieces")) {
    auto piece = p.at(0).get<std::uint64_t>();
    auto bytes = damselfly::from_base64(p.at(2).get<std::string>());
    ASSERT_TRUE(bytes) << p;
    EXPECT_EQ(damselfly::to_hex(bytes->data(), bytes->size()), digest_of(piece)) << p;
  }
  // Nothing new (no work, the task and ticket as the peer knows them): a
  // 204 without a body for a compact peer, JSON for the others.
  json knows{{"want", 0},
             {"known_state", "done"},
             {"version", j.contains("task") ? j["task"].value("version", "") : ""},
             {"ticket_tail", j.value("ticket", "").substr(j.value("ticket", "").size() - 16)}};
  ASSERT_TRUE(j.contains("task") && j.contains("ticket")) << compact.body;
  knows["compact"] = true;
  auto nothing = post(sync, knows.dump());
  EXPECT_EQ(nothing.status, 204) << nothing.head;
  EXPECT_EQ(nothing.body, "");
  EXPECT_EQ(nothing.head.find("Content-Length"), std::string::npos) << nothing.head;
  EXPECT_EQ(nothing.head.find("Server:"), std::string::npos) << nothing.head;
  knows.erase("compact");
  auto plain = post(sync, knows.dump());
  EXPECT_EQ(plain.status, 200) << plain.head;
  EXPECT_EQ(json::parse(plain.body).at("assignments"), json::array());
  // Not asked: the full form, as older peers read it.
  auto full = post(sync, R"({"want": 2})");
  ASSERT_EQ(full.status, 200) << full.body;
  auto f = json::parse(full.body);
  ASSERT_EQ(f.at("assignments").size(), 2u) << full.body;
  EXPECT_NE(full.head.find("Content-Type: application/json"), std::string::npos) << full.head;
  auto piece = f["assignments"][0].at("piece").get<std::uint64_t>();
  EXPECT_EQ(f["assignments"][0].at("sha256"), digest_of(piece));
  EXPECT_EQ(f["assignments"][0].at("offset"), piece * (256 << 10));
}

TEST_F(supernode_attack_test, AttackAPieceReportedWithTheWrongDigestIsNotHeldAndIsAssignedAgain) {
  const std::string sync = "/api/v1/tasks/" + task_id_ + "/peers/attacker/sync";
  auto digest_b64 = [&](std::uint64_t piece) {
    return damselfly::to_base64(*damselfly::from_hex(piece_sha256(piece)));
  };
  // A peer that reports digests is assigned without them: [piece, source].
  auto first = post(sync, R"({"want": 1, "compact": true, "report_digests": true})");
  ASSERT_EQ(first.status, 200) << first.body;
  auto pieces = json::parse(first.body).at("pieces");
  ASSERT_EQ(pieces.size(), 1u) << first.body;
  ASSERT_EQ(pieces[0].size(), 2u) << "a digest on the supernode's link: " << first.body;
  const auto piece = pieces[0][0].get<std::uint64_t>();
  auto report = [&](const std::string& digest) {
    json res{{"piece", piece}, {"status", "ok"}, {"source", "supernode"}};
    if (!digest.empty()) res["digest"] = digest;
    json body{
        {"results", json::array({res})}, {"want", 0}, {"compact", true}, {"report_digests", true}};
    auto r = post(sync, body.dump());
    EXPECT_TRUE(r.status == 200 || r.status == 204) << r.head << r.body;
    return r.status == 200 ? json::parse(r.body).value("rejected", json::array()) : json::array();
  };
  // The bytes of another piece, then no digest at all: neither makes it held.
  EXPECT_EQ(report(digest_b64(piece + 1 < 4 ? piece + 1 : 0)), json::array({piece}));
  EXPECT_EQ(report(""), json::array({piece}));
  // Not held: the same piece is the peer's to fetch again.
  auto again = post(sync, R"({"want": 4, "compact": true, "report_digests": true})");
  ASSERT_EQ(again.status, 200) << again.body;
  bool reassigned = false;
  const auto assigned = json::parse(again.body).at("pieces");
  for (const auto& p : assigned) reassigned = reassigned || p.at(0) == piece;
  EXPECT_TRUE(reassigned) << again.body;
  // What the origin sent: held, nothing rejected.
  EXPECT_EQ(report(digest_b64(piece)), json::array());
  auto metrics = http_get(supernode_->port(), "/metrics").body;
  EXPECT_NE(metrics.find(R"(damselfly_supernode_piece_failures_total{reason="bad_digest"} 1)"),
            std::string::npos);
  expect_alive_and_small();
}

TEST_F(supernode_attack_test, ACrowdIsToldToBatchReportsOnlyWhileAPeerFollowsAnotherValue) {
  const std::string sync = "/api/v1/tasks/" + task_id_ + "/peers/attacker/sync";
  auto said = [&](const std::string& body) {
    auto r = post(sync, body);
    EXPECT_TRUE(r.status == 200 || r.status == 204) << r.head << r.body;
    return r.status == 200 ? json::parse(r.body).value("report_every", 0u) : 0u;
  };
  // Alone: every piece reported at once, which a peer following 1 is not told again.
  EXPECT_EQ(said(R"({"want": 0, "compact": true, "report_every": 1})"), 0u);
  for (int i = 1; i < 8; ++i) {
    json r{{"url", origin_->url("f.bin")}, {"peer_id", "crowd" + std::to_string(i)}};
    ASSERT_EQ(post("/api/v1/tasks", r.dump()).status, 200);
  }
  // Eight peers: a crowd. A peer following 1 is told 4, one following 4 is
  // told nothing (a 204 when nothing else is new), one that does not say
  // (an older client) is told 4 every time.
  EXPECT_EQ(said(R"({"want": 0, "compact": true, "report_every": 1})"), 4u);
  EXPECT_EQ(said(R"({"want": 0, "compact": true, "report_every": 4})"), 0u);
  EXPECT_EQ(said(R"({"want": 0})"), 4u);
  EXPECT_EQ(said(R"({"want": 0})"), 4u);
}
