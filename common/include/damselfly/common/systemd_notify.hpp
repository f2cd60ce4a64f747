// SPDX-License-Identifier: Apache-2.0
// The sd_notify protocol (a datagram to $NOTIFY_SOCKET), for Type=notify units.
#pragma once

#include <string_view>

namespace damselfly {

/// Sends `state` (e.g. "READY=1") to the service manager when $NOTIFY_SOCKET is
/// set; does nothing otherwise. Returns false if the message could not be sent.
bool notify_service_manager(std::string_view state);

}  // namespace damselfly
