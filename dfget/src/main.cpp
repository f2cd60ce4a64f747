// SPDX-License-Identifier: Apache-2.0
// dfget: downloads a URL through Damselfly, a drop-in for `wget URL -O FILE`.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli_flags.hpp"
#include "commands.hpp"
#include "damselfly/common/logging.hpp"
#include "damselfly/common/yaml_config.hpp"
#include "damselfly/dfget/exit_codes.hpp"

namespace damselfly::dfget {

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "dfget: error: %s\n", message.c_str());
  return code;
}

}  // namespace damselfly::dfget

namespace {

/// wget's two-letter short options, which a parser of single-letter ones
/// would read as "-n c" (a supernode named "c"): spelled out before parsing.
std::vector<std::string> expand_wget_shorthands(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") {
      for (; i < argc; ++i) args.emplace_back(argv[i]);
      break;
    }
    if (a == "-nc") {
      args.emplace_back("--no-clobber");
    } else if (a == "-nv") {
      args.emplace_back("--progress=none");  // the summary line stays, as wget's one line
    } else if (a == "-nd") {
      continue;  // dfget never creates directories
    } else {
      args.emplace_back(a);
    }
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace damselfly::dfget;
  download_flags download;
  daemon_flags daemon;
  cache_flags cache;
  preheat_flags preheat;
  CLI::App app{"dfget: download a file through the Damselfly peer-to-peer network"};
  app.name("dfget");
  app.set_version_flag("--version", "dfget " DAMSELFLY_VERSION);
  app.footer(
      "Exit codes: 0 done, 1 internal error, 2 usage, 3 supernode, 4 origin, 5 verification, "
      "6 local I/O, 7 timeout (--wget-exit-codes: wget's 0-8). Docs: docs/cli.md");
  add_download_flags(app, download);
  auto* daemon_cmd = add_daemon_command(app, daemon);
  auto* cache_cmd = add_cache_command(app, cache);
  auto* preheat_cmd = add_preheat_command(app, preheat);
  damselfly::add_yaml_config_option(app);
  try {
    auto args = expand_wget_shorthands(argc, argv);
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // One line, like every other error of dfget's.
    return fail(exit_usage, std::string(e.what()) + " (dfget --help lists the options)");
  }
  if (daemon_cmd->parsed()) return run_daemon_command(daemon);
  if (preheat_cmd->parsed()) return run_preheat_command(preheat);
  if (cache_cmd->parsed()) {
    if (damselfly::setup_logging("dfget", download.log_level))
      return fail(exit_usage, "unknown --log-level " + download.log_level);
    return run_cache_command(cache, download.daemon_socket);
  }
  return run_download_command(download);
}
