// SPDX-License-Identifier: Apache-2.0
// dfget's command line: what each command's flags set, before any checking.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "damselfly/common/tls_flags.hpp"
#include "damselfly/dfget/daemon.hpp"

namespace damselfly::dfget {

/// `dfget URL -O FILE` (the default command).
struct download_flags {
  std::string url, url_flag, output;
  std::vector<std::string> urls;  ///< every URL given (positional, then --input-file's)
  std::string input_file;         ///< --input-file: URLs, one per line ("-": stdin)
  bool wget_exit_codes = false;   ///< exit with wget's codes instead of dfget's
  std::string directory_prefix;   ///< -P: where a relative output goes
  bool no_clobber = false;        ///< -nc: leave an existing file alone
  std::string digest, md5, tag, identifier, filter;
  std::vector<std::string> supernodes, headers;
  unsigned parallel = 8;
  std::string timeout = "0";
  std::string connect_timeout = "5s";
  std::string read_timeout = "30s";  ///< -T: longest wait for any read or write to progress
  std::string user, password;        ///< HTTP Basic credentials for the origin
  bool standalone = false;
  bool quiet = false;
  std::string log_level = "warn";
  std::string progress;
  bool showbar = false;
  std::string limit_rate = "0", total_limit = "0";
  tls_options tls;
  bool resume = false;
  std::string tries = "1";         ///< -t: whole-download attempts ("0" or "inf": until it works)
  std::string wait_retry = "10s";  ///< --waitretry: longest pause between attempts
  unsigned piece_tries = 5;        ///< attempts per piece
  bool timestamping = false;       ///< -N: fetch only when the origin's file is newer
  bool no_server_timestamps = false;
  bool spider = false;           ///< --spider: check the URL, download nothing
  bool server_response = false;  ///< -S: print the origin's answer to a probe
  bool no_back_source = false;
  std::string daemon_socket;
  // A daemon dfget starts itself:
  std::string daemon_data_dir, daemon_listen = "0.0.0.0:65002";
  unsigned idle_exit_s = 600;
  std::string token_file;  ///< the cluster token (standalone, and for a daemon dfget starts)
  tls_options cluster;     ///< TLS to the cluster (standalone, and for a daemon dfget starts)
};

/// `dfget daemon`.
struct daemon_flags {
  daemon_config cfg;
  std::vector<std::string> supernodes;
  std::string upload_rate = "0", download_rate = "0", total_limit = "0";
  std::string cache_quota = "0", min_free = "0";
  unsigned cache_ttl_s = 0;
  unsigned idle_exit_s = 0;
  std::string log_level = "info", log_file;
  std::string token_file;
  tls_options cluster;  ///< TLS to supernodes and peers
};

/// `dfget cache list|rm|gc`.
struct cache_flags {
  std::string action, task;
};

/// `dfget preheat URL`: a job on the supernode, followed with --wait.
struct preheat_flags {
  std::string url;
  std::string supernode;
  std::string scope = "supernode";
  std::string idc, location;
  std::vector<std::string> hosts;
  unsigned percentage = 100;
  std::vector<std::string> headers;
  std::string digest, tag, filter;
  std::string admin_token_file;
  bool wait = false;
  std::string timeout = "0";
  std::string progress;  ///< "json": one line per poll on stdout
  tls_options cluster;   ///< TLS to the supernode
};

/// Adds each `--header 'Name: value'` to `out`; the first malformed one is
/// returned (nothing when all are well-formed).
std::optional<std::string> parse_header_flags(const std::vector<std::string>& flags,
                                              std::map<std::string, std::string>& out);

void add_download_flags(CLI::App& app, download_flags& f);
CLI::App* add_preheat_command(CLI::App& app, preheat_flags& f);
CLI::App* add_daemon_command(CLI::App& app, daemon_flags& f);
CLI::App* add_cache_command(CLI::App& app, cache_flags& f);

}  // namespace damselfly::dfget
