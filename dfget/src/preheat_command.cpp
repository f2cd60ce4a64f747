// SPDX-License-Identifier: Apache-2.0
// `dfget preheat URL`: creates a job on the supernode and, with --wait, follows it to its end.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "commands.hpp"
#include "damselfly/common/bearer_auth.hpp"
#include "damselfly/common/http_client.hpp"
#include "damselfly/common/rate_limiter.hpp"
#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/url.hpp"
#include "damselfly/dfget/exit_codes.hpp"
#include "damselfly/proto/checks.hpp"
#include "damselfly/proto/messages.hpp"
#include "damselfly/proto/supernode_list.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;

namespace {

/// One request to the supernode's jobs API on a private io_context.
class jobs_api {
 public:
  jobs_api(const host_port& where, std::shared_ptr<const tls_context> tls, std::string token)
      : token_(std::move(token)) {
    http_client_options o;
    o.connect_timeout = std::chrono::seconds(10);
    o.io_timeout = std::chrono::seconds(30);
    o.tls = std::move(tls);
    client_ = std::make_unique<http_client>(io_.get_executor(), where.host, where.port, o);
  }

  result<http_client_response> call(const std::string& method, const std::string& target,
                                    std::string body = {}) {
    http_request req;
    req.method = method;
    req.target = target;
    req.body = std::move(body);
    req.headers.set("Authorization", bearer(token_));
    if (!req.body.empty()) req.headers.set("Content-Type", "application/json");
    result<http_client_response> out = errc::io_error;
    asio::co_spawn(io_, client_->fetch(req, 16u << 20),
                   [&](std::exception_ptr ep, result<http_client_response> got) {
                     if (!ep) out = std::move(got);
                   });
    io_.restart();
    io_.run();
    return out;
  }

 private:
  asio::io_context io_{1};
  std::unique_ptr<http_client> client_;
  std::string token_;
};

/// The supernode's error message in an answer, or the status alone.
std::string refusal(const http_client_response& r) {
  auto e = proto::decode<proto::error_response>(r.body);
  if (e) return e.value->error.message + " (HTTP " + std::to_string(r.head.status) + ")";
  return "HTTP " + std::to_string(r.head.status);
}

std::string mib(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

/// One status line: on stdout as JSON, or for people on stderr.
void show(const proto::job_status& j, bool json) {
  if (json) {
    std::printf("%s\n", proto::encode(j).c_str());
    std::fflush(stdout);
    return;
  }
  std::uint64_t bytes = 0;
  std::size_t done = 0;
  for (const auto& t : j.targets) {
    bytes += t.bytes;
    done += t.state == proto::job_state::done;
  }
  std::fprintf(stderr, "preheat %s: %s, %zu of %zu hosts done, %s%s\n", j.id.c_str(),
               std::string(proto::to_string(j.state)).c_str(), done, j.targets.size(),
               mib(bytes).c_str(),
               j.content_length >= 0
                   ? (" of " + mib(static_cast<std::uint64_t>(j.content_length)) + " each").c_str()
                   : "");
}

/// The exit code of a finished job, with the failing hosts listed.
int verdict(const proto::job_status& j) {
  if (j.state == proto::job_state::done) return exit_ok;
  std::string hosts;
  for (const auto& t : j.targets)
    if (t.state != proto::job_state::done)
      hosts += "\n  " + t.host + ": " + std::string(proto::to_string(t.state)) +
               (t.error.empty() ? "" : " (" + t.error + ")");
  std::string why = j.error ? ": " + j.error->message : "";
  int code = j.error && j.error->origin_status != 0 ? exit_origin : exit_internal;
  return fail(j.state == proto::job_state::cancelled ? exit_internal : code,
              "preheat job " + j.id + " " + std::string(proto::to_string(j.state)) + why +
                  "; hosts without the file:" + hosts);
}

}  // namespace

int run_preheat_command(const preheat_flags& f) {
  bool https = false;
  auto where = proto::parse_supernode_address(f.supernode, https);
  if (!where) return fail(exit_usage, "--supernode must be HOST:PORT or https://HOST:PORT");
  std::string why;
  auto token = load_token_file(f.admin_token_file, &why);
  if (!token) return fail(exit_usage, why);
  auto limit = parse_duration(f.timeout);
  if (!limit) return fail(exit_usage, "bad --timeout '" + f.timeout + "'");
  std::shared_ptr<const tls_context> tls;
  if (https || !f.cluster.ca_file.empty()) {
    auto ctx = tls_context::create(f.cluster, &why);
    if (!ctx) return fail(exit_usage, why);
    tls = *ctx;
  }
  proto::job_request req;
  req.scope = f.scope;
  req.idc = f.idc;
  req.location = f.location;
  req.hosts = f.hosts;
  req.percentage = f.percentage;
  req.identity = {f.url, split_filter_list(f.filter), f.tag, f.digest, "", ""};
  if (!http_url::parse(f.url)) return fail(exit_usage, "not an absolute http(s) URL: " + f.url);
  if (auto bad = parse_header_flags(f.headers, req.headers))
    return fail(exit_usage, "bad --header '" + *bad + "': expected 'Name: value'");

  jobs_api api(*where, tls, *token);
  auto made = api.call("POST", "/api/v1/jobs", proto::encode(req));
  if (!made) return fail(exit_supernode, "cannot reach the supernode: " + made.error().message());
  if (made->head.status != 201)
    return fail(made->head.status == 400 ? exit_usage : exit_supernode,
                "the supernode refused the job: " + refusal(*made));
  auto job = proto::decode<proto::job_status>(made->body);
  if (!job)
    return fail(exit_supernode, "the supernode's answer is not a job: " + job.error.message);
  const bool json = f.progress == "json";
  if (!f.wait) {
    std::printf("%s\n", json ? made->body.c_str() : job.value->id.c_str());
    return exit_ok;
  }
  auto deadline = std::chrono::steady_clock::now() + *limit;
  auto status = *job.value;
  // Bounded by --timeout, or by the job's end, which the supernode reaches
  // when its fetches end (they have timeouts of their own).
  for (;;) {
    show(status, json);
    if (status.state == proto::job_state::done || status.state == proto::job_state::failed ||
        status.state == proto::job_state::cancelled)
      return verdict(status);
    if (limit->count() > 0 && std::chrono::steady_clock::now() >= deadline)
      return fail(exit_timeout, "preheat job " + status.id + " did not end within " + f.timeout +
                                    " (it goes on; GET /api/v1/jobs/" + status.id + ")");
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto got = api.call("GET", "/api/v1/jobs/" + status.id);
    if (!got) return fail(exit_supernode, "lost the supernode: " + got.error().message());
    if (got->head.status != 200)
      return fail(exit_supernode, "cannot follow the job: " + refusal(*got));
    auto next = proto::decode<proto::job_status>(got->body);
    if (!next) return fail(exit_supernode, "the supernode's answer is not a job");
    status = std::move(*next.value);
  }
}

}  // namespace damselfly::dfget
