// SPDX-License-Identifier: Apache-2.0
// dfget's flags, grouped in --help the way users arrive: wget, Dragonfly, Damselfly.
#include "cli_flags.hpp"

#include <map>

namespace damselfly::dfget {

namespace {

void add_identity_flags(CLI::App& app, download_flags& f) {
  app.add_option("url", f.urls, "URL(s) to download");
  app.add_option("--input-file", f.input_file,
                 "Download the URLs listed in FILE, one per line ('-': standard input)");
  app.add_option("-u,--url", f.url_flag, "URL to download (Dragonfly spelling)");
  app.add_option("-O,-o,--output", f.output,
                 "Output file; '-' is standard output; a directory takes the URL's file name "
                 "(the default is that name in the current directory). A device or FIFO is "
                 "written to, never replaced; a symlink is written through")
      ->allow_extra_args(false);
  app.add_option("-P,--directory-prefix", f.directory_prefix,
                 "Directory a relative output (or the URL's file name) is saved under");
  app.add_flag("--no-clobber", f.no_clobber,
               "Leave an existing output file alone and download nothing (wget -nc)");
  app.add_option("--digest", f.digest, "Expected digest of the whole file: sha256:HEX or md5:HEX");
  app.add_option("-m,--md5", f.md5, "Expected MD5 of the whole file (same as --digest md5:HEX)");
  app.add_option("--tag", f.tag,
                 "Tag that separates otherwise identical URLs into different tasks");
  app.add_option("-i,--identifier", f.identifier,
                 "Content identifier used for the task id instead of a digest");
  app.add_option(
      "-f,--filter", f.filter,
      "Query parameters ignored for task identity, separated by '&' (e.g. 'Expires&Signature')");
  app.add_option("--header", f.headers, "Header sent to the origin, 'Name: value'; repeatable")
      ->allow_extra_args(false);
}

void add_transfer_flags(CLI::App& app, download_flags& f) {
  app.add_option("--supernode,-n,--node", f.supernodes,
                 "Supernode HOST:PORT (https://HOST:PORT for TLS); repeat or separate with "
                 "commas to give fallbacks")
      ->delimiter(',')
      ->allow_extra_args(false);
  app.add_option("-T,--read-timeout", f.read_timeout,
                 "Longest wait for a read or write to make progress, like 30s")
      ->capture_default_str();
  app.add_option("--user,--http-user", f.user, "User name for the origin (HTTP Basic)");
  app.add_option("--password,--http-password", f.password, "Password for the origin (HTTP Basic)");
  app.add_option("--connect-timeout", f.connect_timeout,
                 "Longest wait for a connection (supernode, peer, origin), like 5s; a silent "
                 "supernode costs this much before the origin is used")
      ->capture_default_str();
  app.add_option("--parallel", f.parallel, "Pieces downloaded in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--timeout", f.timeout,
                 "Give up after this long, like 90, 30s or 5m (0: no limit), on every path")
      ->capture_default_str();
  app.add_flag("--standalone", f.standalone, "Run the download engine inside this process");
  app.add_option("--token-file", f.token_file,
                 "Cluster token (the file's first line) for the supernodes and peers; also given "
                 "to a daemon dfget starts");
  app.add_option("--progress", f.progress,
                 "bar, json (one event per line on stdout) or none; default: bar on a terminal");
  app.add_flag("-b,--showbar", f.showbar, "Same as --progress=bar");
  app.add_option("--limit-rate,-s,--locallimit", f.limit_rate,
                 "Download rate cap per second for this download, like 20M");
  app.add_option("--totallimit", f.total_limit,
                 "Download rate cap per second over all downloads of a daemon dfget starts, like "
                 "100M (in-process: same as --limit-rate)");
  add_tls_flags(app, f.tls, ",--no-check-certificate");
  add_cluster_tls_flags(app, f.cluster);
  app.add_flag("-c,--continue", f.resume,
               "Keep the pieces of an interrupted in-process download and resume them next time");
  app.add_option("-t,--tries", f.tries,
                 "Attempts at the whole download when it fails for a reason that may pass "
                 "(network, a stalled origin, a 5xx answer, a lost daemon); 0 or inf: no limit")
      ->capture_default_str();
  app.add_option("--waitretry", f.wait_retry,
                 "Longest pause between attempts (1s, 2s, ... up to this), like 10s")
      ->capture_default_str();
  app.add_option("--piece-tries", f.piece_tries, "Attempts per piece before the download fails")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100u));
  app.add_flag("-N,--timestamping", f.timestamping,
               "Download only if the origin's file is newer than the output file or of another "
               "size (asks the origin directly)");
  app.add_flag("--no-use-server-timestamps", f.no_server_timestamps,
               "Do not give the output file the origin's Last-Modified time");
  app.add_flag("--spider", f.spider,
               "Check that the URL answers (directly at the origin); download nothing");
  app.add_flag("-S,--server-response", f.server_response,
               "Print the origin's answer (status and headers) to a direct probe");
  app.add_flag("--no-back-source,--notbs", f.no_back_source,
               "Fail instead of downloading straight from the origin when no supernode answers");
  app.add_flag("-q,--quiet", f.quiet, "Print nothing on success");
  app.add_flag("--wget-exit-codes", f.wget_exit_codes,
               "Exit with wget's codes (1 generic, 2 parse, 3 I/O, 4 network, 8 server error) "
               "instead of dfget's");
  app.add_option("--log-level", f.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
}

void add_own_daemon_flags(CLI::App& app, download_flags& f) {
  app.add_option(
      "--daemon-data-dir", f.daemon_data_dir,
      "Data dir of a daemon dfget starts itself (default: /var/lib/damselfly/dfget for root)");
  app.add_option("--daemon-listen", f.daemon_listen,
                 "Piece server address of a daemon dfget starts itself")
      ->capture_default_str();
  app.add_option("--idle-exit", f.idle_exit_s,
                 "A daemon dfget starts itself exits after this many idle seconds")
      ->capture_default_str();
  app.add_option("--daemon-socket", f.daemon_socket,
                 "Hand the download to the dfget daemon listening on this unix socket");
}

void group_help(CLI::App& app) {
  const std::string download = "Download (wget and Dragonfly spellings)";
  const std::map<std::string, std::string> groups{
      {"--url", download},
      {"--input-file", download},
      {"--directory-prefix", download},
      {"--no-clobber", download},
      {"--connect-timeout", download},
      {"--read-timeout", download},
      {"--user", download},
      {"--password", download},
      {"--output", download},
      {"--header", download},
      {"--timeout", download},
      {"--tries", download},
      {"--waitretry", download},
      {"--timestamping", download},
      {"--no-use-server-timestamps", download},
      {"--spider", download},
      {"--server-response", download},
      {"--limit-rate", download},
      {"--totallimit", download},
      {"--continue", download},
      {"--quiet", download},
      {"--ca-cert", "HTTPS origins"},
      {"--insecure", "HTTPS origins"},
      {"--digest", "Verification"},
      {"--md5", "Verification"},
      {"--tag", "Task identity"},
      {"--identifier", "Task identity"},
      {"--filter", "Task identity"},
      {"--supernode", "Damselfly"},
      {"--daemon-socket", "Damselfly"},
      {"--standalone", "Damselfly"},
      {"--no-back-source", "Damselfly"},
      {"--parallel", "Damselfly"},
      {"--piece-tries", "Damselfly"},
      {"--progress", "Output"},
      {"--showbar", "Output"},
      {"--log-level", "Output"},
  };
  for (auto* opt : app.get_options()) {
    if (auto it = groups.find(opt->get_name()); it != groups.end()) opt->group(it->second);
  }
}

void add_daemon_limits(CLI::App& cmd, daemon_flags& f) {
  cmd.add_option("--upload-rate", f.upload_rate,
                 "Upload cap per second over all peers, like 8M; 0: none")
      ->capture_default_str();
  cmd.add_option("--download-rate", f.download_rate,
                 "Download cap per second per download, like 8M; 0: none")
      ->capture_default_str();
  cmd.add_option("--total-limit,--totallimit", f.total_limit,
                 "Download cap per second over all downloads together, like 100M; 0: none")
      ->capture_default_str();
  cmd.add_option("--token-file", f.token_file,
                 "Cluster token (the file's first line): demanded on /pieces, sent to "
                 "supernodes and peers");
  add_tls_server_flags(cmd, f.cfg.tls);
  add_cluster_tls_flags(cmd, f.cluster);
  cmd.add_option("--credential-header", f.cfg.credential_headers,
                 "Header names carrying credentials besides Authorization, Proxy-Authorization "
                 "and Cookie; such downloads are never cached or served")
      ->delimiter(',');
  cmd.add_option("--upload-slots", f.cfg.upload_slots, "Concurrent uploads; more get 503")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  cmd.add_option("--child-upload-slots", f.cfg.child_upload_slots,
                 "Of the upload slots, how many serve children of the parent-set protocol")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  cmd.add_option("--parallel", f.cfg.parallel, "Pieces in flight per download")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  cmd.add_option(
         "--cache-quota", f.cache_quota,
         "Evict finished tasks (least recently used first) above this size, like 50G; 0: none")
      ->capture_default_str();
  cmd.add_option("--min-free", f.min_free,
                 "Evict finished tasks while the disk has less than this free, like 10G; 0: none")
      ->capture_default_str();
  cmd.add_option("--cache-ttl", f.cache_ttl_s,
                 "Evict finished tasks unused for this many seconds; 0: keep")
      ->capture_default_str();
}

}  // namespace

void add_download_flags(CLI::App& app, download_flags& f) {
  add_identity_flags(app, f);
  add_transfer_flags(app, f);
  add_own_daemon_flags(app, f);
  group_help(app);
}

CLI::App* add_daemon_command(CLI::App& app, daemon_flags& f) {
  auto* cmd = app.add_subcommand(
      "daemon", "Run the dfget daemon: downloads for local clients and serves pieces to peers");
  cmd->add_option("--listen", f.cfg.listen, "Address and port of the piece server")
      ->capture_default_str();
  cmd->add_option("--advertise", f.cfg.advertise,
                  "HOST:PORT peers use to reach this daemon (default: the listen address)");
  cmd->add_option("--data-dir", f.cfg.data_dir, "Where pieces are kept")->capture_default_str();
  cmd->add_option("--supernode,-n,--node", f.supernodes, "Supernode HOST:PORT; repeatable")
      ->delimiter(',')
      ->required();
  cmd->add_option("--socket", f.cfg.socket_path, "Unix socket for local dfget clients")
      ->capture_default_str();
  cmd->add_option("--idc", f.cfg.idc, "This host's IDC (peers in the same IDC are preferred)");
  cmd->add_option("--location", f.cfg.location, "This host's location, like region|zone|rack");
  add_daemon_limits(*cmd, f);
  cmd->add_option("--idle-exit", f.idle_exit_s,
                  "Exit after this many seconds without clients, downloads or uploads; 0: never")
      ->capture_default_str();
  cmd->add_option("--log-level", f.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  cmd->add_option("--log-file", f.log_file, "Log to this file instead of stderr");
  return cmd;
}

std::optional<std::string> parse_header_flags(const std::vector<std::string>& flags,
                                              std::map<std::string, std::string>& out) {
  for (const auto& h : flags) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) return h;
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    out[h.substr(0, colon)] = value;
  }
  return std::nullopt;
}

CLI::App* add_preheat_command(CLI::App& app, preheat_flags& f) {
  auto* cmd = app.add_subcommand(
      "preheat", "Have the supernode fetch a file before nodes ask for it (a preheat job)");
  cmd->add_option("url", f.url, "The file's URL")->required();
  cmd->add_option("--supernode,-n,--node", f.supernode, "The supernode (HOST:PORT or https://...)")
      ->required();
  cmd->add_option("--admin-token-file", f.admin_token_file,
                  "The supernode's admin token (the file's first line)")
      ->required();
  cmd->add_option("--scope", f.scope,
                  "Where the file goes: supernode (its cache) or all_peers (every daemon's too)")
      ->check(CLI::IsMember({"supernode", "all_peers"}))
      ->capture_default_str();
  cmd->add_option("--idc", f.idc, "all_peers: only daemons of this IDC");
  cmd->add_option("--location", f.location, "all_peers: only daemons at or under this location");
  cmd->add_option("--host", f.hosts,
                  "all_peers: only this daemon (host id or address; repeatable)");
  cmd->add_option("--percentage", f.percentage, "all_peers: this share of the matching daemons")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--header,-H", f.headers, "An origin header, 'Name: value' (repeatable)");
  cmd->add_option("--digest", f.digest, "sha256:HEX or md5:HEX of the whole file");
  cmd->add_option("--tag", f.tag, "Task tag, as for downloads");
  cmd->add_option("--filter", f.filter, "Query parameters left out of the task id, '&'-separated");
  cmd->add_flag("--wait", f.wait,
                "Wait until the job ends: exit 0 only when every host holds the file");
  cmd->add_option("--timeout", f.timeout, "Longest --wait, like 10m (0: none)")
      ->capture_default_str();
  cmd->add_option("--progress", f.progress,
                  "json: the job's status as one JSON line per second on stdout (default: a "
                  "status line per second on stderr)")
      ->check(CLI::IsMember({"json"}));
  add_cluster_tls_flags(*cmd, f.cluster);
  return cmd;
}

CLI::App* add_cache_command(CLI::App& app, cache_flags& f) {
  auto* cmd =
      app.add_subcommand("cache", "List, remove or garbage-collect the daemon's cached tasks");
  cmd->add_option("action", f.action, "list, rm or gc")
      ->required()
      ->check(CLI::IsMember({"list", "rm", "gc"}));
  cmd->add_option("task", f.task, "The task id to remove (rm)");
  cmd->fallthrough();
  return cmd;
}

}  // namespace damselfly::dfget
