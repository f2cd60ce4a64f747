// SPDX-License-Identifier: Apache-2.0
// Runs a service's io_context until SIGTERM/SIGINT, then stops it gracefully.
#pragma once

#include <chrono>

#include "damselfly/common/service.hpp"

namespace boost::asio {
class io_context;
}

namespace damselfly {

/// Tells the service manager READY=1 (sd_notify, when under systemd), runs
/// `io` (calling `svc.reload()` on each SIGHUP) until SIGTERM or SIGINT; then says STOPPING=1,
/// calls `svc.stop()` and lets the work in progress finish while `svc.connections()` is non-zero,
/// for at most `grace`; then calls `svc.cancel()`, and `io` returns once
/// every coroutine has unwound. True for that clean end; false when something
/// still ran `grace` after the cancel and `io` was stopped (then the
/// service's coroutine frames may still refer to it: the caller must not
/// destroy it).
bool run_until_signalled(boost::asio::io_context& io, service& svc,
                         std::chrono::milliseconds grace = std::chrono::seconds(5));

}  // namespace damselfly
