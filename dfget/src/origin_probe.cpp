// SPDX-License-Identifier: Apache-2.0
// probe_origin: the origin_reader's probe on a private io_context.
#include "damselfly/dfget/origin_probe.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "damselfly/common/origin_reader.hpp"
#include "damselfly/common/url.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;

std::string terminal_safe(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

http_client_options origin_client_options(const downloader_options& opts,
                                          std::shared_ptr<const tls_context> tls) {
  http_client_options c;
  c.io_timeout = opts.io_timeout;
  c.connect_timeout = std::min(opts.connect_timeout, opts.io_timeout);
  if (opts.total_timeout.count() > 0) {
    c.io_timeout = std::min(c.io_timeout, opts.total_timeout);
    c.connect_timeout = std::min(c.connect_timeout, opts.total_timeout);
  }
  c.tls = std::move(tls);
  return c;
}

origin_probe_result probe_origin(const download_request& req, const downloader_options& opts,
                                 const std::function<void(const std::string&)>& show) {
  origin_probe_result out;
  auto url = http_url::parse(req.identity.url);
  if (!url) {
    out.ec = errc::invalid_argument;
    out.message = "not an absolute http(s) URL: " + req.identity.url;
    return out;
  }
  origin_reader_options ro;
  ro.client = origin_client_options(opts, req.origin_tls);
  if (show) {
    ro.on_response = [&show](const http_url& asked, const response_head& h) {
      // All of it comes from the origin: nothing reaches the terminal raw.
      std::string text = "  " + terminal_safe(asked.text) + "\n  HTTP/1.1 " +
                         std::to_string(h.status) + " " + terminal_safe(h.reason) + "\n";
      for (const auto& [name, value] : h.headers.fields())
        text += "  " + terminal_safe(name) + ": " + terminal_safe(value) + "\n";
      show(text);
    };
  }
  asio::io_context io(1);
  origin_reader reader(io.get_executor(), *url, req.headers, ro);
  origin_result r;
  asio::co_spawn(io, reader.probe({}), [&](std::exception_ptr ep, origin_result got) {
    if (ep) {
      r.ec = errc::io_error;
      r.detail = "internal error";
    } else {
      r = std::move(got);
    }
  });
  io.run();
  out.final_url = terminal_safe(reader.url().text);
  if (r.ec) {
    out.ec = r.http_status != 0 ? error_code(errc::origin_http_error) : r.ec;
    auto text = describe_origin_failure(reader.url(), r);
    out.message = text.message;
    if (text.code == "origin_unreachable" || text.code == "origin_timeout")
      out.ec = errc::origin_unreachable;
    return out;
  }
  out.length = r.layout.length;
  out.last_modified = terminal_safe(r.layout.last_modified);
  return out;
}

}  // namespace damselfly::dfget
