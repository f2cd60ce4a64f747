// SPDX-License-Identifier: Apache-2.0
// The CLI side of the local socket: hand a download to the daemon and follow it.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>

#include "damselfly/common/error.hpp"
#include "damselfly/common/unique_fd.hpp"
#include "damselfly/proto/messages.hpp"

namespace damselfly::dfget {

/// Sends `req` to the daemon at `socket_path`, with `output_fd` (when not
/// -1) passed along as the file to write the download into, and relays the
/// daemon's events to `on_event` until the final one, which is returned. A
/// daemon that cannot be reached, or that hangs up or sends nonsense, is a
/// returned error; so is `timeout` (zero: none) passing first, and
/// errc::cancelled when a signal interrupts the wait and `interrupted` says so.
/// A final event that says `shared` comes with the daemon's cached file,
/// put into `*shared` (a descriptor any other event brings is closed).
result<proto::local_event> run_via_daemon(
    const std::filesystem::path& socket_path, const proto::local_request& req, int output_fd,
    const std::function<void(const proto::local_event&)>& on_event,
    std::chrono::milliseconds timeout, const std::function<bool()>& interrupted = {},
    unique_fd* shared = nullptr);

}  // namespace damselfly::dfget
