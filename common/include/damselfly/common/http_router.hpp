// SPDX-License-Identifier: Apache-2.0
// Route table for the HTTP servers: method + path pattern -> handler, with middleware.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "damselfly/common/http_message.hpp"

namespace damselfly {

/// The values a pattern's `{name}` segments matched, in pattern order.
class route_params {
 public:
  /// The value of `{name}`; empty when the pattern has no such segment.
  std::string_view get(std::string_view name) const;
  void add(std::string name, std::string value) {
    items_.emplace_back(std::move(name), std::move(value));
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

/// One entry of the table, as middleware sees it.
struct route {
  std::string method;   ///< "GET" routes also answer HEAD
  std::string pattern;  ///< "/api/v1/tasks/{task}": literal segments and `{name}` ones
  std::string name;     ///< what middleware and logs call it, e.g. "sync"
};

using route_handler =
    std::function<boost::asio::awaitable<http_response>(http_request&, const route_params&)>;

/// Runs, in the order added, before the handler of a matched route; a response
/// it returns is the answer and the handler does not run (authentication goes here).
using route_middleware = std::function<std::optional<http_response>(
    const http_request&, const route&, const route_params&)>;

/// Dispatches requests by method and path. Path segments are split at '/'
/// (empty ones ignored); `{name}` matches exactly one non-empty segment.
/// Unknown paths answer 404 and known paths with another method 405 with
/// `Allow`, both in the error shape of http_response::error.
class http_router {
 public:
  /// What a lookup found: a route with its parameters, or why not.
  struct lookup {
    enum class kind { found, no_path, no_method } result = kind::no_path;
    std::size_t index = 0;  ///< the route, when found
    route_params params;
    std::string allow;  ///< on no_method: the methods the path takes, "GET, HEAD"
  };

  void add(std::string method, std::string pattern, std::string name, route_handler handler);
  void use(route_middleware middleware);

  /// Pure matching, no I/O: what handle() would run for `method path`.
  lookup find(std::string_view method, std::string_view path) const;
  const route& at(std::size_t index) const { return entries_.at(index).r; }

  /// Routes one request. Handlers' exceptions propagate (the server logs them as bugs).
  boost::asio::awaitable<http_response> handle(http_request& req) const;

 private:
  struct entry {
    route r;
    std::vector<std::string> segments;
    route_handler handler;
  };
  std::vector<entry> entries_;
  std::vector<route_middleware> middleware_;
};

}  // namespace damselfly
