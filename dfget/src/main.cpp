// SPDX-License-Identifier: Apache-2.0
// dfget: downloads a URL through Damselfly, a drop-in for `wget URL -O FILE`.
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "damselfly/common/logging.hpp"
#include "damselfly/common/url.hpp"
#include "damselfly/common/yaml_config.hpp"
#include "damselfly/dfget/downloader.hpp"
#include "damselfly/dfget_storage/output_file.hpp"

namespace {

using namespace damselfly;

/// Exit codes; docs/cli.md lists them.
enum exit_code : int {
  exit_ok = 0,
  exit_internal = 1,
  exit_usage = 2,
  exit_supernode = 3,
  exit_origin = 4,
  exit_verify = 5,
  exit_local_io = 6,
  exit_timeout = 7,
};

int exit_code_for(const error_code& ec) {
  if (ec == errc::invalid_argument) return exit_usage;
  if (ec == errc::supernode_unreachable || ec == errc::protocol_error) return exit_supernode;
  if (ec == errc::origin_http_error || ec == errc::origin_unreachable || ec == errc::task_failed ||
      ec == errc::source_changed)
    return exit_origin;
  if (ec == errc::digest_mismatch || ec == errc::too_many_failures) return exit_verify;
  if (ec == errc::io_error) return exit_local_io;
  if (ec == errc::timeout) return exit_timeout;
  return exit_internal;
}

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "dfget: error: %s\n", message.c_str());
  return code;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, url_flag, output, digest_text, md5_text, tag, identifier, filter_text;
  std::vector<std::string> supernodes, headers;
  unsigned parallel = 8;
  unsigned timeout_s = 0;
  bool standalone = false, quiet = false;
  std::string log_level = "warn";

  CLI::App app{"dfget: download a file through the Damselfly peer-to-peer network"};
  app.set_version_flag("--version", "dfget 0.1.0");
  app.add_option("url", url, "URL to download");
  app.add_option("-u,--url", url_flag, "URL to download (Dragonfly spelling)");
  app.add_option("-O,-o,--output", output,
                 "Output file (or directory: the URL's file name is used)");
  app.add_option("--supernode,-n,--node", supernodes,
                 "Supernode HOST:PORT; repeat or separate with commas to give fallbacks")
      ->delimiter(',');
  app.add_option("--digest", digest_text,
                 "Expected digest of the whole file: sha256:HEX or md5:HEX");
  app.add_option("-m,--md5", md5_text, "Expected MD5 of the whole file (same as --digest md5:HEX)");
  app.add_option("--tag", tag, "Tag that separates otherwise identical URLs into different tasks");
  app.add_option("-i,--identifier", identifier,
                 "Content identifier used for the task id instead of a digest");
  app.add_option(
      "-f,--filter", filter_text,
      "Query parameters ignored for task identity, separated by '&' (e.g. 'Expires&Signature')");
  app.add_option("--header", headers, "Header sent to the origin, 'Name: value'; repeatable");
  app.add_option("--parallel", parallel, "Pieces downloaded in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--timeout", timeout_s, "Give up after this many seconds (0: no limit)")
      ->capture_default_str();
  app.add_flag("--standalone", standalone, "Run the download engine inside this process");
  app.add_flag("-q,--quiet", quiet, "Print nothing on success");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  add_yaml_config_option(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_usage;
  }
  if (setup_logging("dfget", log_level))
    return fail(exit_usage, "unknown --log-level " + log_level);

  if (!url_flag.empty()) {
    if (!url.empty() && url != url_flag) return fail(exit_usage, "two different URLs given");
    url = url_flag;
  }
  if (url.empty()) return fail(exit_usage, "no URL given (dfget URL -O FILE)");
  auto parsed_url = http_url::parse(url);
  if (!parsed_url) return fail(exit_usage, "not an absolute http(s) URL: " + url);

  dfget::download_request req;
  req.url = url;
  req.tag = tag;
  req.identifier = identifier;
  req.filters = split_filter_list(filter_text);
  if (!digest_text.empty() && !md5_text.empty())
    return fail(exit_usage, "give either --digest or --md5, not both");
  if (!md5_text.empty()) digest_text = "md5:" + md5_text;
  if (!digest_text.empty()) {
    auto spec = digest_spec::parse(digest_text);
    if (!spec)
      return fail(exit_usage,
                  "bad digest '" + digest_text + "': expected sha256:<64 hex> or md5:<32 hex>");
    req.digest = *spec;
  }
  for (const auto& h : headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0)
      return fail(exit_usage, "bad --header '" + h + "': expected 'Name: value'");
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    req.headers[h.substr(0, colon)] = value;
  }

  dfget::downloader_options opts;
  opts.parallel = parallel;
  opts.total_timeout = std::chrono::seconds(timeout_s);
  for (const auto& s : supernodes) {
    auto hp = host_port::parse(s);
    if (!hp || hp->port == 0)
      return fail(exit_usage, "bad --supernode '" + s + "': expected HOST:PORT");
    opts.supernodes.push_back(*hp);
  }
  if (opts.supernodes.empty())
    return fail(exit_usage, "no supernode configured: pass --supernode HOST:PORT");
  (void)standalone;  // the engine always runs in this process for now

  namespace fs = std::filesystem;
  fs::path out_path = output;
  if (output.empty()) {
    return fail(exit_usage, "no output given (-O FILE)");
  }
  std::error_code fec;
  if (fs::is_directory(out_path, fec)) {
    std::string name =
        fs::path(parsed_url->target.substr(0, parsed_url->target.find('?'))).filename();
    out_path /= name.empty() ? "index.html" : name;
  }
  auto out = dfget::output_file::create(out_path);
  if (!out)
    return fail(exit_local_io, "cannot create " + out_path.string() + ": " + out.error().message());

  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  dfget::downloader engine(io.get_executor(), opts);
  dfget::download_outcome outcome;
  boost::asio::co_spawn(io, engine.run(req, **out),
                        [&](std::exception_ptr ep, dfget::download_outcome o) {
                          if (ep) {
                            outcome.ec = errc::io_error;
                            outcome.message = "internal error";
                          } else {
                            outcome = std::move(o);
                          }
                        });
  io.run();

  if (outcome.ec) return fail(exit_code_for(outcome.ec), outcome.message);
  if (auto ec = (*out)->commit(outcome.summary.bytes))
    return fail(exit_local_io, "cannot publish " + out_path.string() + ": " + ec.message());
  if (!quiet) {
    double secs = std::max<double>(outcome.summary.elapsed.count(), 1) / 1000.0;
    std::fprintf(stderr, "dfget: %s saved: %s in %.2f s (%s/s); from supernode %s, from peers %s\n",
                 out_path.c_str(), human_bytes(static_cast<double>(outcome.summary.bytes)).c_str(),
                 secs, human_bytes(static_cast<double>(outcome.summary.bytes) / secs).c_str(),
                 human_bytes(static_cast<double>(outcome.summary.from_supernode)).c_str(),
                 human_bytes(static_cast<double>(outcome.summary.from_peers)).c_str());
  }
  return exit_ok;
}
