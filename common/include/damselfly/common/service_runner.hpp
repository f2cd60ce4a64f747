// SPDX-License-Identifier: Apache-2.0
// Runs a service's io_context until SIGTERM/SIGINT, then stops it gracefully.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

namespace boost::asio {
class io_context;
}

namespace damselfly {

/// What a service gives run_until_signalled().
struct service_hooks {
  std::function<void()> stop;         ///< stop accepting; work in progress goes on
  std::function<std::size_t()> busy;  ///< work in progress (open connections)
  std::function<void()> cancel;       ///< cancel what still runs
};

/// Tells the service manager READY=1 (sd_notify, when under systemd), runs
/// `io` until SIGTERM or SIGINT; then says STOPPING=1, calls `stop` and lets
/// the work in progress finish while `busy()` is non-zero, for at most
/// `grace`; then calls `cancel`, and `io` returns once every coroutine has
/// unwound. True for that clean end; false when something still ran `grace`
/// after the cancel and `io` was stopped (then the service's coroutine frames
/// may still refer to it: the caller must not destroy it).
bool run_until_signalled(boost::asio::io_context& io, const service_hooks& hooks,
                         std::chrono::milliseconds grace = std::chrono::seconds(5));

}  // namespace damselfly
