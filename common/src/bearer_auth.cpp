// SPDX-License-Identifier: Apache-2.0
// Cluster token file loading and the bearer-token middleware.
#include "damselfly/common/bearer_auth.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace damselfly {

namespace {

constexpr std::size_t min_token_chars = 16;

}  // namespace

result<std::string> load_token_file(const std::filesystem::path& path, std::string* why) {
  auto say = [&](std::string message, error_code ec) -> error_code {
    if (why) *why = std::move(message);
    return ec;
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return say("cannot read token file " + path.string() + ": " + std::strerror(errno),
               errc::invalid_argument);
  if ((st.st_mode & S_IROTH) != 0)
    return say("token file " + path.string() + " is readable by everyone; chmod o-r it",
               errc::invalid_argument);
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  line.erase(line.begin(), std::find_if_not(line.begin(), line.end(), blank));
  while (!line.empty() && blank(static_cast<unsigned char>(line.back()))) line.pop_back();
  if (line.size() < min_token_chars)
    return say("token file " + path.string() + " must hold a token of at least " +
                   std::to_string(min_token_chars) + " characters on its first line",
               errc::invalid_argument);
  return line;
}

namespace {

/// Nothing when `req` carries `token` as its bearer token; else the 401.
std::optional<http_response> check_bearer(const http_request& req, const std::string& token,
                                          std::string_view needed) {
  auto given = req.headers.get("Authorization").value_or("");
  constexpr std::string_view scheme = "Bearer ";
  if (given.size() > scheme.size() && given.substr(0, scheme.size()) == scheme &&
      same_secret(given.substr(scheme.size()), token))
    return std::nullopt;
  auto resp = http_response::error(401, "unauthorized", needed);
  resp.headers.set("WWW-Authenticate", "Bearer");
  return resp;
}

bool named(const std::vector<std::string>& names, const route& r) {
  return std::find(names.begin(), names.end(), r.name) != names.end();
}

}  // namespace

route_middleware require_bearer_token(std::string token, std::vector<std::string> open_routes) {
  return [token = std::move(token), open = std::move(open_routes)](
             const http_request& req, const route& r,
             const route_params&) -> std::optional<http_response> {
    if (named(open, r)) return std::nullopt;
    return check_bearer(req, token, "this cluster needs its token: Authorization: Bearer TOKEN");
  };
}

route_middleware require_bearer_token_on(std::string token, std::vector<std::string> guarded,
                                         std::string needed) {
  return [token = std::move(token), guarded = std::move(guarded), needed = std::move(needed)](
             const http_request& req, const route& r,
             const route_params&) -> std::optional<http_response> {
    if (!named(guarded, r)) return std::nullopt;
    if (token.empty())
      return http_response::error(403, "disabled", "this server has no admin token: " + needed);
    return check_bearer(req, token, needed);
  };
}

std::string bearer(const std::string& token) {
  return "Bearer " + token;
}

bool is_loopback_listen_address(const std::string& address) {
  if (address == "localhost") return true;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

}  // namespace damselfly
