// SPDX-License-Identifier: Apache-2.0
// dfget: downloads a URL through Damselfly, a drop-in for `wget URL -O FILE`.
#include <CLI/CLI.hpp>
#include <cstdio>

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

int main(int argc, char** argv) {
  using namespace damselfly::dfget;
  download_flags download;
  daemon_flags daemon;
  cache_flags cache;
  CLI::App app{"dfget: download a file through the Damselfly peer-to-peer network"};
  app.set_version_flag("--version", "dfget 0.1.0");
  add_download_flags(app, download);
  auto* daemon_cmd = add_daemon_command(app, daemon);
  auto* cache_cmd = add_cache_command(app, cache);
  damselfly::add_yaml_config_option(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_usage;
  }
  if (daemon_cmd->parsed()) return run_daemon_command(daemon);
  if (cache_cmd->parsed()) {
    if (damselfly::setup_logging("dfget", download.log_level))
      return fail(exit_usage, "unknown --log-level " + download.log_level);
    return run_cache_command(cache, download.daemon_socket);
  }
  return run_download_command(download);
}
