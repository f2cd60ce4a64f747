// SPDX-License-Identifier: Apache-2.0
// Starting a dfget daemon on demand, once, however many dfget processes ask at the same moment.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "damselfly/common/error.hpp"

namespace damselfly::dfget {

/// How to start a daemon when none answers.
struct daemon_launch {
  std::filesystem::path executable;  ///< this dfget binary
  std::filesystem::path socket;
  std::filesystem::path data_dir;
  std::string listen;
  std::vector<std::string> supernodes;
  unsigned idle_exit_seconds = 600;
  std::string total_limit = "0";     ///< the daemon's --total-limit
  std::filesystem::path token_file;  ///< the daemon's --token-file, if any
  /// The daemon's --cluster-ca, --tls-client-cert, --tls-client-key, if any.
  std::filesystem::path cluster_ca, client_cert, client_key;
};

/// Returns once a daemon answers on `l.socket`, starting one (detached, logging
/// to data_dir/daemon.log, exiting when idle) if none does. Concurrent callers
/// serialize on a lock file beside the socket, so only the first starts one.
/// errc::timeout if none answers within `wait`.
error_code ensure_daemon(const daemon_launch& l, std::chrono::milliseconds wait);

/// The socket path dfget uses when none is given: /run/damselfly/dfget.sock for
/// root, $XDG_RUNTIME_DIR/damselfly/dfget.sock (or /tmp/damselfly-UID/) otherwise.
std::filesystem::path default_daemon_socket();

/// The data dir an on-demand daemon uses: /var/lib/damselfly/dfget for root,
/// ~/.cache/damselfly/dfget otherwise.
std::filesystem::path default_daemon_data_dir();

}  // namespace damselfly::dfget
