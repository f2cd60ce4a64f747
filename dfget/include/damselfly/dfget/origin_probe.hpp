// SPDX-License-Identifier: Apache-2.0
// One direct look at the origin (wget's --spider, -S and -N): status, length, Last-Modified.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "damselfly/common/error.hpp"
#include "damselfly/dfget/downloader.hpp"

namespace damselfly {
struct http_client_options;
class tls_context;
}  // namespace damselfly

namespace damselfly::dfget {

/// How dfget reaches an origin itself: `opts`' read and connect timeouts
/// (the connect no longer than a read), neither outlasting its --timeout;
/// `tls` for https (null: the system store).
http_client_options origin_client_options(const downloader_options& opts,
                                          std::shared_ptr<const tls_context> tls);

/// What the origin said about the file.
struct origin_probe_result {
  error_code ec;        ///< empty: the file is there
  std::string message;  ///< on failure, one line naming the origin
  std::int64_t length = -1;
  std::string last_modified;  ///< as sent; empty: none
  std::string final_url;      ///< where redirects led
};

/// `text` from a server made safe to print on a terminal: control
/// characters (escape sequences could rewrite the screen) become '?'.
std::string terminal_safe(std::string_view text);

/// Asks the origin of `req` for its first byte (following redirects as a
/// download does), with `opts`' timeouts. `show`, when set, is given each
/// answer's status line and headers as wget -S prints them.
origin_probe_result probe_origin(const download_request& req, const downloader_options& opts,
                                 const std::function<void(const std::string&)>& show);

}  // namespace damselfly::dfget
