// SPDX-License-Identifier: Apache-2.0
// Route table scenarios: patterns, 404/405 answers, middleware order; serve_range answers.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include "damselfly/common/http_router.hpp"
#include "damselfly/common/serve_range.hpp"

using namespace damselfly;
namespace asio = boost::asio;

namespace {

route_handler answer(std::string text) {
  return [text](http_request&, const route_params& p) -> asio::awaitable<http_response> {
    std::string body = text;
    for (auto name : {"task", "peer"})
      if (!p.get(name).empty()) body += " " + std::string(p.get(name));
    co_return http_response::text(200, body);
  };
}

http_response run(const http_router& router, std::string method, std::string target) {
  asio::io_context io;
  http_request req;
  req.method = std::move(method);
  req.target = std::move(target);
  auto f = asio::co_spawn(io, router.handle(req), asio::use_future);
  io.run();
  return f.get();
}

std::string error_code_of(const http_response& r) {
  return nlohmann::json::parse(r.body).at("error").at("code").get<std::string>();
}

http_router supernode_like() {
  http_router r;
  r.add("POST", "/api/v1/tasks", "register", answer("register"));
  r.add("GET", "/api/v1/tasks/{task}", "status", answer("status"));
  r.add("POST", "/api/v1/tasks/{task}/peers/{peer}/sync", "sync", answer("sync"));
  r.add("DELETE", "/api/v1/tasks/{task}/peers/{peer}", "leave", answer("leave"));
  r.add("GET", "/healthz", "health", answer("ok"));
  return r;
}

}  // namespace

TEST(http_router, literal_and_parameter_segments_pick_the_route_and_its_values) {
  auto r = supernode_like();
  EXPECT_EQ(run(r, "POST", "/api/v1/tasks").body, "register");
  EXPECT_EQ(run(r, "GET", "/api/v1/tasks/abc").body, "status abc");
  EXPECT_EQ(run(r, "POST", "/api/v1/tasks/abc/peers/p1/sync").body, "sync abc p1");
  EXPECT_EQ(run(r, "DELETE", "/api/v1/tasks/abc/peers/p1").body, "leave abc p1");
  // The query is not part of the path; repeated slashes are one separator.
  EXPECT_EQ(run(r, "GET", "/api/v1/tasks/abc?x=1").body, "status abc");
  EXPECT_EQ(run(r, "GET", "//healthz").body, "ok");
}

TEST(http_router, get_routes_answer_head_too) {
  auto r = supernode_like();
  EXPECT_EQ(run(r, "HEAD", "/healthz").status, 200u);
}

TEST(http_router, unknown_path_is_404_in_the_one_error_shape) {
  auto r = supernode_like();
  auto resp = run(r, "GET", "/api/v1/nothing");
  EXPECT_EQ(resp.status, 404u);
  EXPECT_EQ(error_code_of(resp), "not_found");
  // A parameter matches exactly one non-empty segment.
  EXPECT_EQ(run(r, "POST", "/api/v1/tasks/abc/peers/p1/sync/more").status, 404u);
  EXPECT_EQ(run(r, "GET", "/api/v1/tasks/abc/extra").status, 404u);
}

TEST(http_router, known_path_with_another_method_is_405_with_allow) {
  auto r = supernode_like();
  auto resp = run(r, "PUT", "/api/v1/tasks/abc");
  EXPECT_EQ(resp.status, 405u);
  EXPECT_EQ(error_code_of(resp), "method_not_allowed");
  EXPECT_EQ(resp.headers.get("Allow").value_or(""), "GET, HEAD");
  EXPECT_EQ(run(r, "GET", "/api/v1/tasks").headers.get("Allow").value_or(""), "POST");
}

TEST(http_router, find_is_pure_and_reports_parameters) {
  auto r = supernode_like();
  auto found = r.find("POST", "/api/v1/tasks/t1/peers/p9/sync");
  ASSERT_EQ(found.result, http_router::lookup::kind::found);
  EXPECT_EQ(r.at(found.index).name, "sync");
  EXPECT_EQ(found.params.get("task"), "t1");
  EXPECT_EQ(found.params.get("peer"), "p9");
  EXPECT_EQ(found.params.get("absent"), "");
}

TEST(http_router, middleware_runs_in_order_and_can_answer_instead_of_the_handler) {
  auto r = supernode_like();
  std::vector<std::string> seen;
  r.use([&](const http_request&, const route& rt,
            const route_params&) -> std::optional<http_response> {
    seen.push_back("first:" + rt.name);
    return std::nullopt;
  });
  r.use([&](const http_request& req, const route& rt,
            const route_params& p) -> std::optional<http_response> {
    seen.push_back("second:" + rt.name);
    if (rt.name == "sync" && p.get("peer") != "me" && !req.headers.get("Authorization"))
      return http_response::error(401, "unauthorized", "who are you?");
    return std::nullopt;
  });
  r.use([&](const http_request&, const route& rt,
            const route_params&) -> std::optional<http_response> {
    seen.push_back("third:" + rt.name);
    return std::nullopt;
  });
  auto refused = run(r, "POST", "/api/v1/tasks/t/peers/other/sync");
  EXPECT_EQ(refused.status, 401u);
  EXPECT_EQ(error_code_of(refused), "unauthorized");
  EXPECT_EQ(seen, (std::vector<std::string>{"first:sync", "second:sync"}));
  seen.clear();
  EXPECT_EQ(run(r, "GET", "/healthz").body, "ok");
  EXPECT_EQ(seen, (std::vector<std::string>{"first:health", "second:health", "third:health"}));
  // Unmatched requests never reach middleware.
  seen.clear();
  EXPECT_EQ(run(r, "GET", "/nope").status, 404u);
  EXPECT_TRUE(seen.empty());
}

TEST(http_response_error, messages_with_quotes_and_bad_utf8_stay_valid_json) {
  auto resp = http_response::error(400, "bad_request", "bad \"x\" \xff", "url");
  auto j = nlohmann::json::parse(resp.body);
  EXPECT_EQ(j.at("error").at("field"), "url");
  EXPECT_EQ(j.at("error").at("code"), "bad_request");
  EXPECT_FALSE(http_response::error(404, "not_found", "x").body.find("field") != std::string::npos);
}

namespace {

range_source held_source(std::uint64_t length, std::uint64_t held_up_to) {
  range_source s;
  s.fd = std::make_shared<const unique_fd>(::open("/dev/null", O_RDONLY));
  s.length = length;
  s.holds = [held_up_to](const piece_range& r) { return r.end() <= held_up_to; };
  return s;
}

http_response ask(const range_source& s, std::optional<std::string> range) {
  http_request req;
  if (range) req.headers.set("Range", *range);
  return serve_range(req, s);
}

}  // namespace

TEST(serve_range, held_range_is_206_with_content_range_and_a_file_slice) {
  auto resp = ask(held_source(1000, 500), "bytes=100-199");
  EXPECT_EQ(resp.status, 206u);
  EXPECT_EQ(resp.headers.get("Content-Range").value_or(""), "bytes 100-199/1000");
  ASSERT_TRUE(resp.file);
  EXPECT_EQ(resp.file->offset, 100u);
  EXPECT_EQ(resp.file->length, 100u);
}

TEST(serve_range, range_not_held_whole_is_404_not_ready) {
  auto resp = ask(held_source(1000, 500), "bytes=400-599");
  EXPECT_EQ(resp.status, 404u);
  EXPECT_EQ(error_code_of(resp), "not_ready");
}

TEST(serve_range, outside_the_content_is_416_and_garbage_is_400) {
  auto far = ask(held_source(1000, 1000), "bytes=5000-6000");
  EXPECT_EQ(far.status, 416u);
  EXPECT_EQ(far.headers.get("Content-Range").value_or(""), "bytes */1000");
  EXPECT_EQ(ask(held_source(1000, 1000), "bytes=1-2,5-6").status, 400u);
  EXPECT_EQ(ask(held_source(1000, 1000), "pieces=1").status, 400u);
}

TEST(serve_range, whole_file_only_when_ready_and_unknown_length_says_star) {
  auto s = held_source(1000, 1000);
  EXPECT_EQ(ask(s, std::nullopt).status, 404u);
  s.whole_file_ready = true;
  auto whole = ask(s, std::nullopt);
  EXPECT_EQ(whole.status, 200u);
  ASSERT_TRUE(whole.file);
  EXPECT_EQ(whole.file->length, 1000u);
  s.length.reset();
  s.extent = 300;
  EXPECT_EQ(ask(s, "bytes=0-99").headers.get("Content-Range").value_or(""), "bytes 0-99/*");
}
