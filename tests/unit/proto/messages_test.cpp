// SPDX-License-Identifier: Apache-2.0
// Golden JSON for every v1 message, round trips, and field-naming decode errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "damselfly/proto/checks.hpp"
#include "damselfly/proto/messages.hpp"

using namespace damselfly::proto;
using nlohmann::json;

namespace {

/// Decoding the golden text and encoding it again gives the same JSON value.
template <class T>
T round_trip(const std::string& golden) {
  auto d = decode<T>(golden);
  EXPECT_TRUE(d) << d.error.message;
  EXPECT_EQ(json::parse(encode(*d.value)), json::parse(golden));
  return *d.value;
}

}  // namespace

TEST(ProtoGolden, RegisterRequest) {
  auto r = round_trip<register_request>(R"({
    "url": "http://o/f?sig=1", "peer_id": "node-1", "filters": ["sig"], "tag": "t",
    "digest": "sha256:ab", "identifier": "id", "headers": {"Authorization": "x"},
    "upload_addr": "10.0.0.1:65002", "idc": "idc1", "location": "cn|bj", "upload_slots": 4,
    "bitmap": "0110", "version": "v7"})");
  EXPECT_EQ(r.bitmap, "0110");
  EXPECT_EQ(r.version, "v7");
  EXPECT_EQ(r.upload_slots, 4u);
  EXPECT_EQ(r.identity.url, "http://o/f?sig=1");
  EXPECT_EQ(r.identity.filters, (std::vector<std::string>{"sig"}));
  EXPECT_EQ(r.headers.at("Authorization"), "x");
  auto minimal = round_trip<register_request>(R"({"url": "http://o/f", "peer_id": "p"})");
  EXPECT_TRUE(minimal.identity.tag.empty());
}

TEST(ProtoGolden, TaskInfoRunningDoneFailed) {
  auto running = round_trip<task_info>(R"({"task_id": "abc", "state": "running",
    "content_length": -1, "piece_size": 4194304, "piece_count": -1, "version": "v1"})");
  EXPECT_EQ(running.state, task_state::running);
  EXPECT_EQ(running.content_length, -1);
  auto done = round_trip<task_info>(R"({"task_id": "abc", "state": "done",
    "content_length": 5, "piece_size": 1048576, "piece_count": 1, "version": "v1",
    "file_sha256": "ff"})");
  EXPECT_EQ(done.file_sha256, "ff");
  auto failed = round_trip<task_info>(R"({"task_id": "abc", "state": "failed",
    "content_length": -1, "piece_size": 0, "piece_count": -1, "version": "",
    "error": {"code": "origin_http_error", "message": "origin answered 404", "origin_status": 404}})");
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->origin_status, 404);
}

TEST(ProtoGolden, SyncRequestAndResponse) {
  auto s = round_trip<sync_request>(R"({"results": [{"piece": 3, "status": "ok",
    "source": "supernode", "bytes": 1048576, "duration_ms": 12}], "want": 8, "wait_ms": 2000,
    "version": "v1"})");
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_EQ(s.results[0].piece, 3u);
  EXPECT_EQ(s.results[0].status, piece_status::ok);
  EXPECT_EQ(s.results[0].source, supernode_source);
  auto r = round_trip<sync_response>(R"({"task": {"task_id": "abc", "state": "running",
    "content_length": 10, "piece_size": 4, "piece_count": 3, "version": "v1"},
    "assignments": [{"piece": 2, "offset": 8, "length": 2, "sha256": "aa", "source": "supernode"}]})");
  ASSERT_EQ(r.assignments.size(), 1u);
  EXPECT_EQ(r.assignments[0].length, 2u);
  ASSERT_TRUE(r.task);
  // A peer says what it holds; an answer may then leave the task out.
  auto knowing = round_trip<sync_request>(
      R"({"results": [], "want": 2, "wait_ms": 0, "version": "v1", "known_state": "running",
          "ticket_tail": "0123456789abcdef"})");
  EXPECT_EQ(knowing.known_state, "running");
  EXPECT_EQ(knowing.ticket_tail, "0123456789abcdef");
  auto slim = round_trip<sync_response>(R"({"assignments": []})");
  EXPECT_FALSE(slim.task);
  EXPECT_TRUE(slim.ticket.empty());
}

TEST(ProtoGolden, Heartbeat) {
  auto h =
      round_trip<heartbeat_request>(R"({"upload_addr": "10.0.0.1:65002", "tasks": ["a", "b"]})");
  EXPECT_EQ(h.tasks.size(), 2u);
  auto r = round_trip<heartbeat_response>(R"({"unknown_tasks": ["b"]})");
  EXPECT_EQ(r.unknown_tasks, (std::vector<std::string>{"b"}));
  // The host key goes back and forth once the supernode has given one.
  auto keyed = round_trip<heartbeat_request>(
      R"({"upload_addr": "10.0.0.1:65002", "tasks": [], "host_key": "k1"})");
  EXPECT_EQ(keyed.host_key, "k1");
  EXPECT_EQ(round_trip<heartbeat_response>(R"({"unknown_tasks": [], "host_key": "k1"})").host_key,
            "k1");
}

TEST(ProtoDecode, BitmapMustBeBinary) {
  auto d = decode<register_request>(R"({"url": "u", "peer_id": "p", "bitmap": "01x"})");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error.field, "bitmap");
}

TEST(ProtoGolden, ErrorResponse) {
  auto e = round_trip<error_response>(
      R"({"error": {"code": "bad_request", "message": "missing required field 'url'", "field": "url"}})");
  EXPECT_EQ(e.error.field, "url");
}

TEST(ProtoDecode, UnknownFieldsAreIgnored) {
  auto d = decode<register_request>(R"({"url": "http://o/f", "peer_id": "p", "future": {"x": 1}})");
  ASSERT_TRUE(d);
}

TEST(ProtoDecode, MissingAndMistypedFieldsAreNamed) {
  auto missing = decode<register_request>(R"({"peer_id": "p"})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error.field, "url");
  auto mistyped = decode<register_request>(R"({"url": 5, "peer_id": "p"})");
  EXPECT_EQ(mistyped.error.field, "url");
  auto negative = decode<sync_request>(R"({"want": -1})");
  EXPECT_EQ(negative.error.field, "want");
  auto nested = decode<sync_request>(
      R"({"want": 1, "results": [{"piece": 1, "status": "ok"}, {"status": "ok"}]})");
  EXPECT_EQ(nested.error.field, "results[1].piece");
  auto header = decode<register_request>(R"({"url": "u", "peer_id": "p", "headers": {"A": 1}})");
  EXPECT_EQ(header.error.field, "headers.A");
  auto state = decode<task_info>(R"({"task_id": "a", "state": "weird", "content_length": 1,
    "piece_size": 1, "piece_count": 1})");
  EXPECT_EQ(state.error.field, "state");
}

TEST(ProtoDecode, NonJsonAndNonObjects) {
  auto garbage = decode<sync_request>("{not json");
  ASSERT_FALSE(garbage);
  EXPECT_TRUE(garbage.error.field.empty());
  EXPECT_FALSE(decode<sync_request>("[1,2]"));
  EXPECT_FALSE(decode<sync_request>(""));
}

TEST(ProtoGolden, LocalRequestCarriesTrustAndRate) {
  auto r = round_trip<local_request>(R"({
    "command": "download", "url": "https://o/f", "output": "/tmp/f",
    "ca_pem": "-----BEGIN CERTIFICATE-----\nAA==\n", "insecure": true, "limit_rate": 2097152})");
  EXPECT_EQ(r.ca_pem, "-----BEGIN CERTIFICATE-----\nAA==\n");
  EXPECT_TRUE(r.insecure);
  EXPECT_EQ(r.limit_rate, 2097152u);
  auto plain = round_trip<local_request>(
      R"({"command": "download", "url": "http://o/f", "output": "/tmp/f"})");
  EXPECT_FALSE(plain.insecure);
  EXPECT_EQ(plain.limit_rate, 0u);
}

TEST(ProtoGolden, LocalRequestCarriesThisDownloadsTimingWithinBounds) {
  auto r = round_trip<local_request>(R"({
    "command": "download", "url": "http://o/f", "output": "/tmp/f", "connect_timeout_ms": 2000,
    "read_timeout_ms": 9000, "parallel": 3, "piece_tries": 7, "total_limit": 1048576})");
  EXPECT_EQ(r.connect_timeout_ms, 2000u);
  EXPECT_EQ(r.read_timeout_ms, 9000u);
  EXPECT_EQ(r.parallel, 3u);
  EXPECT_EQ(r.piece_tries, 7u);
  EXPECT_EQ(r.total_limit, 1048576u);
  // A local client cannot make the daemon wait for days or open hundreds of streams.
  auto slow = decode<local_request>(
      R"({"command": "download", "url": "http://o/f", "output": "/f", "read_timeout_ms": 86400000})");
  EXPECT_FALSE(slow);
  EXPECT_FALSE(decode<local_request>(
      R"({"command": "download", "url": "http://o/f", "output": "/f", "parallel": 500})"));
  EXPECT_FALSE(decode<local_request>(
      R"({"command": "download", "url": "http://o/f", "output": "/f", "piece_tries": 1000})"));
}

TEST(ProtoGolden, TaskInfoAndDoneEventsCarryLastModifiedOfBoundedLength) {
  auto t = round_trip<task_info>(R"({"task_id": "t", "state": "done", "content_length": 8,
    "piece_size": 4, "piece_count": 2, "version": "v", "last_modified": "Sun, 06 Nov 1994 08:49:37 GMT"})");
  EXPECT_EQ(t.last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_FALSE(decode<task_info>(R"({"task_id": "t", "state": "done", "content_length": 8,
    "piece_size": 4, "piece_count": 2, "last_modified": ")" +
                                 std::string(65, 'x') + R"("})"));
  auto e = round_trip<local_event>(
      R"({"event": "done", "bytes": 1, "total": 1, "from_supernode": 0, "from_peers": 0,
          "from_origin": 1, "elapsed_ms": 3, "last_modified": "Sun, 06 Nov 1994 08:49:37 GMT"})");
  EXPECT_EQ(e.last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(ProtoGolden, SyncResponseAsksCrowdsToBatchReports) {
  auto r = round_trip<sync_response>(R"({
    "task": {"task_id": "t", "state": "running", "content_length": 8, "piece_size": 4,
             "piece_count": 2, "version": "v"},
    "assignments": [], "report_every": 4})");
  EXPECT_EQ(r.report_every, 4u);
  auto plain = round_trip<sync_response>(R"({
    "task": {"task_id": "t", "state": "running", "content_length": 8, "piece_size": 4,
             "piece_count": 2, "version": "v"},
    "assignments": []})");
  EXPECT_EQ(plain.report_every, 0u);  // not said: the peer keeps what it follows
  EXPECT_FALSE(json::parse(encode(plain)).contains("report_every"));
  // The peer says what it follows, so the answer can leave it out.
  auto asked = round_trip<sync_request>(
      R"({"results": [], "want": 2, "wait_ms": 0, "version": "", "report_every": 4})");
  EXPECT_EQ(asked.report_every, 4u);
  EXPECT_EQ(decode<sync_request>(R"({"want": 2})").value->report_every, 0u);
}

TEST(ProtoVocabulary, PieceStatusesLocalCommandsAndEventsHaveOneWireNameEach) {
  for (auto st :
       {piece_status::ok, piece_status::bad_digest, piece_status::unreachable, piece_status::error})
    EXPECT_EQ(parse_piece_status(to_string(st)), st);
  EXPECT_FALSE(parse_piece_status("fine"));
  auto bad = decode<sync_request>(R"({"results": [{"piece": 1, "status": "fine"}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error.field, "results[0].status");
  auto rm = round_trip<local_request>(
      R"({"command": "cache_rm", "task": "abc", "url": "", "output": ""})");
  EXPECT_EQ(rm.command, local_command::cache_rm);
  EXPECT_FALSE(decode<local_request>(R"({"command": "format_disk"})"));
  auto ev = round_trip<local_event>(R"({"event": "progress", "bytes": 5, "total": 10})");
  EXPECT_EQ(ev.event, local_event_kind::progress);
  EXPECT_FALSE(decode<local_event>(R"({"event": "maybe"})"));
}

TEST(ProtoVocabulary, BitmapCodecRoundTrips) {
  std::vector<bool> have{true, false, false, true, true};
  EXPECT_EQ(encode_bitmap(have), "10011");
  EXPECT_EQ(decode_bitmap("10011"), have);
  EXPECT_TRUE(decode_bitmap("").empty());
}

namespace {

task_info layout(std::int64_t length, std::uint64_t piece_size) {
  task_info t;
  t.content_length = length;
  t.piece_size = piece_size;
  auto size = static_cast<std::int64_t>(piece_size);
  t.piece_count = length < 0 ? -1 : size == 0 ? 1 : (length + size - 1) / size;
  return t;
}

assignment piece_of(const task_info& t, std::uint64_t piece, std::uint64_t length) {
  return {piece, piece * t.piece_size, length, std::string(64, 'a'), std::string(supernode_source)};
}

}  // namespace

TEST(ProtoChecks, TaskInfoWithinLimitsAndConsistentPasses) {
  EXPECT_EQ(check_task_info(layout(10000, 4096)), "");
  EXPECT_EQ(check_task_info(layout(0, 4096)), "");
  EXPECT_EQ(check_task_info(layout(-1, 0)), "");     // still probing
  EXPECT_EQ(check_task_info(layout(-1, 4096)), "");  // a stream of unknown length
}

TEST(ProtoChecks, TaskInfoLiesAreNamed) {
  EXPECT_NE(check_task_info(layout(std::int64_t{1} << 62, 1 << 20)), "");
  EXPECT_NE(check_task_info(layout(1000, 0)), "");
  EXPECT_NE(check_task_info(layout(1000, (1ull << 30) + 1)), "");
  auto t = layout(10000, 4096);
  t.piece_count = 1 << 25;
  EXPECT_NE(check_task_info(t).find("piece_count"), std::string::npos);
  t = layout(10000, 4096);
  t.content_length = -7;
  EXPECT_NE(check_task_info(t), "");
}

TEST(ProtoGolden, CompactSyncAnswersListSourcesOnceAndLeaveTheLayoutToThePeer) {
  auto asks = round_trip<sync_request>(
      R"({"results": [], "want": 4, "wait_ms": 0, "version": "v1", "compact": true})");
  EXPECT_TRUE(asks.compact);
  const std::string digest_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  const std::string digest_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  // Sources in the order the assignments first name them.
  auto r = round_trip<sync_response>(R"({"sources": ["10.0.0.2:65002", "supernode"],
    "pieces": [[0, 0, ")" + digest_b64 +
                                     R"("], [2, 1, ")" + digest_b64 + R"("],
               [1, 0, ")" + digest_b64 +
                                     R"("]], "report_every": 4})");
  EXPECT_TRUE(r.compact);
  ASSERT_EQ(r.assignments.size(), 3u);
  EXPECT_EQ(r.assignments[0].source, "10.0.0.2:65002");
  EXPECT_EQ(r.assignments[1].source, supernode_source);
  EXPECT_EQ(r.assignments[2].sha256, digest_hex);
  // Offsets and lengths come from the layout: pieces of 4096, 4096, 1808.
  task_info t;
  t.content_length = 10000;
  t.piece_size = 4096;
  t.piece_count = 3;
  EXPECT_EQ(expand_compact(r.assignments, t), "");
  EXPECT_EQ(r.assignments[1].offset, 8192u);
  EXPECT_EQ(r.assignments[1].length, 1808u);
  EXPECT_EQ(r.assignments[2].offset, 4096u);
  EXPECT_EQ(r.assignments[2].length, 4096u);
  for (const auto& a : r.assignments) EXPECT_EQ(check_assignment(a, t), "");
  // The same answer in full is about twice the bytes.
  auto full = r;
  full.compact = false;
  EXPECT_GT(encode(full).size(), 19 * encode(r).size() / 10);
  // Nothing assigned: no sources, no pieces.
  sync_response none;
  none.compact = true;
  EXPECT_EQ(json::parse(encode(none)), json::object());
}

TEST(ProtoGolden, APeerThatReportsDigestsGetsPairsAndHearsWhichPiecesWereRejected) {
  const std::string digest_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  const std::string digest_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  auto asks = round_trip<sync_request>(
      R"({"results": [{"piece": 3, "status": "ok", "source": "10.0.0.2:65002", "bytes": 4096,
                       "duration_ms": 2, "digest": ")" +
      digest_b64 + R"("}], "want": 4, "wait_ms": 0, "version": "v1", "compact": true,
          "report_digests": true})");
  EXPECT_TRUE(asks.report_digests);
  EXPECT_EQ(asks.results.at(0).sha256, digest_hex);
  auto r = round_trip<sync_response>(
      R"({"sources": ["supernode"], "pieces": [[0, 0], [1, 0]], "rejected": [3]})");
  ASSERT_EQ(r.assignments.size(), 2u);
  EXPECT_EQ(r.assignments[1].piece, 1u);
  EXPECT_EQ(r.assignments[1].sha256, "");
  EXPECT_EQ(r.rejected, std::vector<std::uint64_t>{3});
  task_info t;
  t.content_length = 10000;
  t.piece_size = 4096;
  t.piece_count = 3;
  EXPECT_EQ(expand_compact(r.assignments, t), "");
  for (const auto& a : r.assignments) EXPECT_EQ(check_assignment(a, t), "");
}

TEST(ProtoGolden, WithParentSetsAPeerIsGivenParentsAndOnlyWhatTheSupernodeInjects) {
  auto asks = round_trip<sync_request>(
      R"({"results": [], "want": 2, "wait_ms": 2000, "version": "v1", "compact": true,
          "report_digests": true, "parents": true})");
  EXPECT_TRUE(asks.parents);
  auto r = round_trip<sync_response>(
      R"({"sources": ["supernode"], "pieces": [[5, 0]], "parents": ["10.0.0.2:65002",
          "[fd00::3]:65002"], "parent_sets": true})");
  EXPECT_TRUE(r.parent_sets);
  EXPECT_EQ(r.parents, (std::vector<std::string>{"10.0.0.2:65002", "[fd00::3]:65002"}));
  ASSERT_EQ(r.assignments.size(), 1u);
  EXPECT_EQ(r.assignments[0].source, "supernode");
  // An older peer's request, and an answer in a centrally scheduled task,
  // say nothing of parents.
  EXPECT_FALSE(
      round_trip<sync_request>(R"({"want": 1, "wait_ms": 0, "version": "", "results": []})")
          .parents);
  EXPECT_FALSE(round_trip<sync_response>(R"({"assignments": []})").parent_sets);
}

TEST(ProtoDecode, AttackParentListsThatLieAreRefusedBeforeUse) {
  auto refused = [](const std::string& parents) {
    auto d = decode<sync_response>(R"({"assignments": [], "parents": )" + parents + "}");
    return d ? std::string() : d.error.field;
  };
  EXPECT_EQ(refused(R"(["10.0.0.2:65002"])"), "");
  EXPECT_EQ(refused(R"(["10.0.0.2"])"), "parents[0]") << "no port";
  EXPECT_EQ(refused(R"(["10.0.0.2:65002", "10.0.0.3:0"])"), "parents[1]") << "port 0";
  EXPECT_EQ(refused(R"(["a b:1"])"), "parents[0]") << "not a host";
  EXPECT_EQ(refused("[\"" + std::string(400, 'a') + ":1\"]"), "parents[0]") << "too long";
  EXPECT_NE(refused(R"([1])"), "") << "not a string";
  std::string many = "[";
  for (int i = 0; i < 65; ++i)
    many += std::string(i ? "," : "") + "\"10.0.0.1:" + std::to_string(i + 1) + "\"";
  EXPECT_EQ(refused(many + "]"), "parents") << "65 parents";
}

TEST(ProtoDecode, AttackReportedDigestsThatAreNoSha256AreRefused) {
  auto refused = [](const std::string& digest) {
    auto d = decode<sync_request>(R"({"results": [{"piece": 0, "status": "ok", "digest": )" +
                                  digest + R"(}], "want": 1})");
    return d ? std::string() : d.error.field;
  };
  EXPECT_EQ(refused(R"("AAEC")"), "results[0].digest") << "3 bytes";
  EXPECT_EQ(refused(R"("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==")"), "results[0].digest")
      << "31 bytes";
  EXPECT_EQ(refused(R"("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")"),
            "results[0].digest")
      << "hex, not base64";
  EXPECT_NE(refused("32"), "") << "a number";
  EXPECT_EQ(refused(R"("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")"), "");
}

TEST(ProtoDecode, AttackCompactAnswersThatLieAreRefusedBeforeUse) {
  const std::string b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  auto refused = [](const std::string& text) {
    auto d = decode<sync_response>(text);
    return d ? std::string() : d.error.field;
  };
  EXPECT_EQ(refused(R"({"sources": ["supernode"], "pieces": [[0, 1, ")" + b64 + R"("]]})"),
            "pieces[0]")
      << "a source index past the list";
  EXPECT_EQ(refused(R"({"sources": ["supernode"], "pieces": [[0, 0, "AAEC"]]})"), "pieces[0]")
      << "a digest of 3 bytes";
  EXPECT_EQ(
      refused(
          R"({"sources": ["supernode"], "pieces": [[0, 0, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="]]})"),
      "pieces[0]")
      << "a digest of 31 bytes";
  EXPECT_EQ(refused(R"({"sources": ["supernode"], "pieces": [[0, 0, " )" + b64 + R"("]]})"),
            "pieces[0]")
      << "base64 with whitespace";
  EXPECT_EQ(refused(R"({"sources": ["supernode"], "pieces": [[0]]})"), "pieces[0]");
  EXPECT_EQ(refused(R"({"sources": ["supernode"], "pieces": [[0, 0, 7]]})"), "pieces[0]")
      << "a digest that is no string";
  EXPECT_EQ(refused(R"({"sources": ["supernode"], "pieces": [[0, 0, ")" + b64 + R"(", 1]]})"),
            "pieces[0]")
      << "four fields";
  EXPECT_EQ(refused(R"({"rejected": [-1]})"), "rejected[0]");
  std::string rejected = R"({"rejected": [0)";
  for (int i = 0; i < 1024; ++i) rejected += ",0";
  EXPECT_EQ(refused(rejected + "]}"), "rejected") << "1,025 rejected pieces";
  EXPECT_EQ(refused(R"({"sources": ["supernode"], "pieces": [[-1, 0, ")" + b64 + R"("]]})"),
            "pieces[0]");
  EXPECT_EQ(refused(R"({"sources": ["supernode"], "pieces": {"0": 1}})"), "pieces");
  EXPECT_EQ(refused(R"({"pieces": [[0, 0, ")" + b64 + R"("]]})"), "sources");
  EXPECT_EQ(
      refused(
          R"({"sources": ["supernode"], "pieces": [[0, 0, ")" + b64 +
          R"("]], "assignments": [{"piece": 1, "offset": 0, "length": 1, "sha256": "aa", "source": "supernode"}]})"),
      "pieces")
      << "both forms in one answer";
  std::string many = R"({"sources": ["supernode"], "pieces": [)";
  for (int i = 0; i < 1025; ++i) many += (i ? "," : "") + std::string("[0, 0, \"") + b64 + "\"]";
  EXPECT_EQ(refused(many + "]}"), "pieces");
  // A piece past the file's end, or a layout the peer cannot derive lengths from.
  auto d =
      decode<sync_response>(R"({"sources": ["supernode"], "pieces": [[3, 0, ")" + b64 + R"("]]})");
  ASSERT_TRUE(d);
  task_info t;
  t.content_length = 10000;
  t.piece_size = 4096;
  t.piece_count = 3;
  EXPECT_NE(expand_compact(d.value->assignments, t), "");
  d.value->assignments[0].piece = std::uint64_t{1} << 63;
  EXPECT_NE(expand_compact(d.value->assignments, t), "");
  t.content_length = -1;
  t.piece_count = -1;
  d.value->assignments[0].piece = 0;
  EXPECT_NE(expand_compact(d.value->assignments, t), "");
}

TEST(ProtoChecks, AssignmentsMustFitTheLayout) {
  auto t = layout(10000, 4096);  // pieces of 4096, 4096, 1808
  EXPECT_EQ(check_assignment(piece_of(t, 0, 4096), t), "");
  EXPECT_EQ(check_assignment(piece_of(t, 2, 1808), t), "");
  EXPECT_NE(check_assignment(piece_of(t, 3, 4096), t), "");
  EXPECT_NE(check_assignment(piece_of(t, UINT64_MAX, 4096), t), "");
  EXPECT_NE(check_assignment(piece_of(t, 2, 4096), t), "");  // longer than the last piece
  auto shifted = piece_of(t, 1, 4096);
  shifted.offset += 1;
  EXPECT_NE(check_assignment(shifted, t), "");
  auto bad_digest = piece_of(t, 1, 4096);
  bad_digest.sha256 = "ZZ";
  EXPECT_NE(check_assignment(bad_digest, t), "");
  auto bad_source = piece_of(t, 1, 4096);
  bad_source.source = "not an address";
  EXPECT_NE(check_assignment(bad_source, t), "");
  bad_source.source = "10.0.0.2:65002";
  EXPECT_EQ(check_assignment(bad_source, t), "");
  EXPECT_NE(check_assignment(piece_of(t, 0, 4096), layout(-1, 0)), "");  // no layout yet
}

TEST(ProtoChecks, OriginHeadersThatSmuggleOrReshapeTheAnswerAreRefused) {
  using headers = std::map<std::string, std::string>;
  EXPECT_FALSE(check_origin_headers(headers{{"Authorization", "Bearer x"}, {"X-Trace", "1"}}));
  auto smuggle = check_origin_headers(headers{{"X-A", "1\r\n\r\nDELETE /smuggled HTTP/1.1"}});
  ASSERT_TRUE(smuggle);
  EXPECT_EQ(smuggle->name, "X-A");
  for (const char* name :
       {"Host", "range", "If-None-Match", "if-modified-since", "Accept-ENCODING", "TE",
        "Transfer-Encoding", "Content-Length", "Connection", "Upgrade", "Expect"}) {
    auto r = check_origin_headers(headers{{name, "v"}});
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(r->name, name);
  }
  EXPECT_TRUE(check_origin_headers(headers{{"Bad Name", "v"}}));
  EXPECT_TRUE(check_origin_headers(headers{{"X-Nul", std::string("a\0b", 3)}}));
}

TEST(ProtoChecks, CredentialsAreFoundInAnyCaseAndCanonicalized) {
  std::map<std::string, std::string> none{{"User-Agent", "x"}, {"X-Trace", "1"}};
  EXPECT_EQ(credential_material(none, {}), "");
  std::map<std::string, std::string> some{
      {"User-Agent", "x"}, {"cookie", "c=1"}, {"AUTHORIZATION", "Bearer t"}};
  EXPECT_EQ(credential_material(some, {}), "authorization:Bearer t\ncookie:c=1\n");
  // Another spelling of the same names gives the same material.
  std::map<std::string, std::string> respelled{{"Authorization", "Bearer t"}, {"Cookie", "c=1"}};
  EXPECT_EQ(credential_material(respelled, {}), credential_material(some, {}));
  // An operator's extra name counts too.
  std::map<std::string, std::string> token{{"X-Registry-Token", "abc"}};
  EXPECT_EQ(credential_material(token, {}), "");
  EXPECT_EQ(credential_material(token, {"x-registry-token"}), "x-registry-token:abc\n");
  EXPECT_TRUE(is_credential_header("Proxy-Authorization", {}));
  EXPECT_FALSE(is_credential_header("Authorization2", {}));
}

TEST(ProtoGolden, ReplicaCarriesARunOfDigestsAndThePiecesTheOwnersPeersHold) {
  const std::string id(64, 'a');
  const std::string d(64, 'b');
  const std::string golden = R"({"task_id": ")" + id +
                             R"(", "content_length": 10000, "piece_size": 4096, "version": "v",
    "etag": "\"e\"", "last_modified": "", "first": 1, "digests": ["", ")" +
                             d + R"("], "file_sha256": "", "sent_at": 1790000000, "held": 40,
    "peers": 12, "stopping": true})";
  auto r = round_trip<task_replica>(golden);
  EXPECT_EQ(r.held, 40u);
  EXPECT_EQ(r.peers, 12u);
  EXPECT_TRUE(r.stopping);
  EXPECT_EQ(r.first, 1u);
  EXPECT_EQ(r.digests.size(), 2u);
  EXPECT_EQ(check_replica(r), "");
  // Without a start or a count: from piece 0, no peers' pieces to wait for.
  auto old = decode<task_replica>(R"({"task_id": ")" + id + R"(", "content_length": 0,
    "piece_size": 4096, "digests": [], "sent_at": 1})");
  ASSERT_TRUE(old) << old.error.message;
  EXPECT_EQ(old.value->held, 0u);
  EXPECT_EQ(old.value->peers, 0u);
  EXPECT_EQ(old.value->first, 0u);
  EXPECT_FALSE(old.value->stopping);
  auto receipt = round_trip<replica_receipt>(R"({"known": 128})");
  EXPECT_EQ(receipt.known, 128u);
}

TEST(ProtoChecks, ReplicaLiesAreNamed) {
  task_replica r;
  r.task_id = std::string(64, 'a');
  r.content_length = 10000;
  r.piece_size = 4096;
  r.digests = {std::string(64, 'b'), "", ""};
  EXPECT_EQ(check_replica(r), "");
  // A run of digests fits within the pieces.
  auto run = r;
  run.first = 1;
  run.digests = {"", std::string(64, 'c')};
  EXPECT_EQ(check_replica(run), "");
  run.first = 2;
  EXPECT_NE(check_replica(run).find("digests"), std::string::npos);
  run.first = UINT64_MAX;
  run.digests = {};
  EXPECT_NE(check_replica(run).find("digests"), std::string::npos);
  auto not_hex = r;
  not_hex.digests[1] = std::string(64, 'z');
  EXPECT_EQ(check_replica(not_hex), "digests[1]");
  // A claim of 2^40 pieces held would only make a successor wait its full
  // grace, but it is no owner's honest count.
  auto crowd = r;
  crowd.held = max_replica_held + 1;
  EXPECT_NE(check_replica(crowd).find("held"), std::string::npos);
  crowd.held = max_replica_held;
  EXPECT_EQ(check_replica(crowd), "");
  crowd.peers = max_replica_held + 1;
  EXPECT_NE(check_replica(crowd).find("peers"), std::string::npos);
}

TEST(ProtoGolden, PreheatJobRequestAndStatus) {
  auto r = round_trip<job_request>(
      R"({"type": "preheat", "url": "http://o/pkg.deb", "scope": "supernode", "tag": "r1",
          "headers": {"X-Token": "t"}})");
  EXPECT_EQ(r.identity.url, "http://o/pkg.deb");
  EXPECT_EQ(r.scope, "supernode");
  // Only preheat jobs, only the two scopes; the url is required.
  EXPECT_EQ(decode<job_request>(R"({"type": "purge", "url": "http://o/f"})").error.field, "type");
  EXPECT_EQ(decode<job_request>(R"({"url": "http://o/f", "scope": "idc"})").error.field, "scope");
  EXPECT_EQ(decode<job_request>(R"({"scope": "supernode"})").error.field, "url");
  // A status derives its counts from its hosts.
  job_status s;
  s.id = "0011223344556677";
  s.request = r;
  s.state = job_state::running;
  s.targets = {{"supernode", job_state::done, 10, ""},
               {"node-2", job_state::failed, 3, "404"},
               {"node-3", job_state::running, 5, ""}};
  auto j = json::parse(encode(s));
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["hosts_total"], 3);
  EXPECT_EQ(j["hosts_done"], 1);
  EXPECT_EQ(j["hosts_failed"], 1);
  EXPECT_EQ(j["bytes"], 18);
  EXPECT_EQ(j["hosts"][1]["error"], "404");
  auto back = decode<job_status>(j.dump());
  ASSERT_TRUE(back) << back.error.message;
  EXPECT_EQ(back.value->targets.size(), 3u);
  EXPECT_EQ(back.value->targets[1].state, job_state::failed);
}

TEST(ProtoGolden, DashboardTaskListPieceMapAndHosts) {
  // A task summary is a task_info with what an operator follows beside it, flat.
  auto t = round_trip<task_summary>(
      R"({"task_id": "ab", "state": "running", "content_length": 8, "piece_size": 4,
          "piece_count": 2, "version": "v", "url": "http://o/f?…", "phase": "fetching",
          "cached_pieces": 1, "peers": 3, "peer_copies": 4, "origin_bytes": 8,
          "served_bytes": 4, "peer_bytes": 12, "idle_s": 2})");
  EXPECT_EQ(t.task.task_id, "ab");
  EXPECT_EQ(t.task.piece_count, 2);
  EXPECT_EQ(t.phase, "fetching");
  EXPECT_EQ(t.peer_bytes, 12u);
  EXPECT_EQ(decode<task_summary>(R"({"task_id": "ab", "state": "running", "content_length": 8,
                                      "piece_size": 4, "piece_count": 2, "phase": "done"})")
                .error.field,
            "url");
  EXPECT_EQ(round_trip<task_list>(R"({"tasks": []})").tasks.size(), 0u);
  // A piece map has one cached flag per piece.
  auto m = round_trip<piece_map>(R"({"task_id": "ab", "holders": [0, 3], "cached": "01"})");
  EXPECT_EQ(m.holders, (std::vector<std::uint32_t>{0, 3}));
  EXPECT_EQ(decode<piece_map>(R"({"task_id": "ab", "holders": [0, 3], "cached": "1"})").error.field,
            "cached");
  EXPECT_EQ(decode<piece_map>(R"({"task_id": "ab", "holders": [-1], "cached": "1"})").error.field,
            "holders[0]");
  auto h = round_trip<host_list>(
      R"({"hosts": [{"host": "n1", "upload_addr": "10.0.0.1:65001", "address": "10.0.0.1",
                     "idc": "east", "location": "eu|1", "tasks": 2, "downloaded_bytes": 8,
                     "uploaded_bytes": 7, "download_rate": 5, "upload_rate": 0,
                     "last_seen_ms": 10}],
          "supernode_uploaded_bytes": 9, "supernode_upload_rate": 1})");
  ASSERT_EQ(h.hosts.size(), 1u);
  EXPECT_EQ(h.hosts[0].idc, "east");
  EXPECT_EQ(h.hosts[0].uploaded_bytes, 7u);
  EXPECT_EQ(h.supernode_uploaded_bytes, 9u);
  EXPECT_EQ(decode<host_list>(R"({"hosts": [{"idc": "east"}]})").error.field, "hosts[0].host");
}
