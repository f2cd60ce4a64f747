// SPDX-License-Identifier: Apache-2.0
// Route table: pattern matching, 404/405 answers and the middleware chain.
#include "damselfly/common/http_router.hpp"

#include <algorithm>

namespace damselfly {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool method_matches(std::string_view route_method, std::string_view method) {
  return route_method == method || (route_method == "GET" && method == "HEAD");
}

}  // namespace

std::string_view route_params::get(std::string_view name) const {
  for (const auto& [k, v] : items_)
    if (k == name) return v;
  return {};
}

void http_router::add(std::string method, std::string pattern, std::string name,
                      route_handler handler) {
  entry e{{std::move(method), std::move(pattern), std::move(name)}, {}, std::move(handler)};
  for (auto part : split_path(e.r.pattern)) e.segments.emplace_back(part);
  entries_.push_back(std::move(e));
}

void http_router::use(route_middleware middleware) {
  middleware_.push_back(std::move(middleware));
}

http_router::lookup http_router::find(std::string_view method, std::string_view path) const {
  lookup out;
  auto parts = split_path(path);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    if (e.segments.size() != parts.size()) continue;
    route_params params;
    bool same_path = true;
    for (std::size_t s = 0; s < parts.size() && same_path; ++s) {
      if (is_param(e.segments[s]))
        params.add(e.segments[s].substr(1, e.segments[s].size() - 2), std::string(parts[s]));
      else
        same_path = e.segments[s] == parts[s];
    }
    if (!same_path) continue;
    if (method_matches(e.r.method, method)) {
      out.result = lookup::kind::found;
      out.index = i;
      out.params = std::move(params);
      return out;
    }
    out.result = lookup::kind::no_method;
    auto add_allow = [&](std::string_view m) {
      if (out.allow.find(m) != std::string::npos) return;
      out.allow += (out.allow.empty() ? "" : ", ") + std::string(m);
    };
    add_allow(e.r.method);
    if (e.r.method == "GET") add_allow("HEAD");
  }
  return out;
}

boost::asio::awaitable<http_response> http_router::handle(http_request& req) const {
  auto found = find(req.method, req.path());
  if (found.result == lookup::kind::no_path)
    co_return http_response::error(
        404, "not_found", "no such endpoint: " + req.method + " " + std::string(req.path()));
  if (found.result == lookup::kind::no_method) {
    auto resp = http_response::error(405, "method_not_allowed",
                                     req.method + " is not allowed on " + std::string(req.path()));
    resp.headers.set("Allow", found.allow);
    co_return resp;
  }
  const auto& e = entries_[found.index];
  for (const auto& m : middleware_)
    if (auto answer = m(req, e.r, found.params)) co_return std::move(*answer);
  co_return co_await e.handler(req, found.params);
}

}  // namespace damselfly
