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

/// Tells the service manager READY=1 (sd_notify, when under systemd), runs
/// `io` until SIGTERM or SIGINT; then says STOPPING=1, calls `stop` (stop accepting) and
/// lets the work in progress finish while `busy()` is non-zero, for at most
/// `grace`, before stopping `io`. Returns when `io` has stopped.
void run_until_signalled(boost::asio::io_context& io, const std::function<void()>& stop,
                         const std::function<std::size_t()>& busy,
                         std::chrono::milliseconds grace = std::chrono::seconds(5));

}  // namespace damselfly
