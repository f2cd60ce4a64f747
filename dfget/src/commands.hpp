// SPDX-License-Identifier: Apache-2.0
// One handler per dfget command: download, daemon, cache. Each returns the exit code.
#pragma once

#include "cli_flags.hpp"

namespace damselfly::dfget {

int run_download_command(download_flags& f);
int run_daemon_command(daemon_flags& f);
int run_cache_command(const cache_flags& f, const std::string& daemon_socket);
int run_preheat_command(const preheat_flags& f);

/// "dfget: error: MESSAGE" on stderr; returns `code`.
int fail(int code, const std::string& message);

}  // namespace damselfly::dfget
