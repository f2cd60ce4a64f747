// SPDX-License-Identifier: Apache-2.0
// The cluster token: loading it from a file, and the middleware that demands it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "damselfly/common/error.hpp"
#include "damselfly/common/http_router.hpp"
#include "damselfly/common/secret_file.hpp"

namespace damselfly {

/// The token in `path`: its first line without surrounding blanks, at least
/// 16 characters. A file that everyone may read is refused (the token
/// would be no secret); `why` says what is wrong.
result<std::string> load_token_file(const std::filesystem::path& path, std::string* why = nullptr);

/// Middleware answering 401 (with `WWW-Authenticate: Bearer`) to any request
/// without `Authorization: Bearer <token>`, except on the routes named in
/// `open_routes` (health and metrics). Compared in constant time.
route_middleware require_bearer_token(std::string token, std::vector<std::string> open_routes);

/// The other way round: demands `token` on the routes named in `guarded`
/// only (an admin API), answering 401 with `needed` as the message. An
/// empty token closes those routes (403).
route_middleware require_bearer_token_on(std::string token, std::vector<std::string> guarded,
                                         std::string needed);

/// The header value a client sends: "Bearer <token>".
std::string bearer(const std::string& token);

/// Whether `address` (an IP literal or a host name) is a loopback address;
/// a server listening elsewhere without a token is reachable by strangers.
bool is_loopback_listen_address(const std::string& address);

}  // namespace damselfly
