// SPDX-License-Identifier: Apache-2.0
// Fuzz target: request bytes through the HTTP parser with the server's limits,
// into the plain request type the handlers and the route table see.
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>

#include "damselfly/common/http_message.hpp"
#include "damselfly/common/http_range.hpp"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);  // as http_server_options
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& msg = parser.get();
  damselfly::http_request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& f : msg) req.headers.add(std::string(f.name_string()), std::string(f.value()));
  (void)req.path();
  (void)req.query_param("x");
  if (auto range = req.headers.get("Range")) (void)damselfly::parse_range_header(*range, 1 << 20);
  return 0;
}
