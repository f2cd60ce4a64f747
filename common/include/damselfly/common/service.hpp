// SPDX-License-Identifier: Apache-2.0
// The lifecycle of a long-running server (supernode, dfget daemon) as its main drives it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "damselfly/common/error.hpp"

namespace damselfly {

/// Start, then on a signal: stop accepting, let work in progress finish,
/// cancel what is left, and unwind (see run_until_signalled).
class service {
 public:
  virtual ~service() = default;
  /// Opens what it serves on; the bound port of its HTTP server.
  virtual result<std::uint16_t> start() = 0;
  /// Stops accepting; work in progress goes on.
  virtual void stop() = 0;
  /// After stop(): cancels what still runs, so every coroutine unwinds and
  /// the executor runs out of work.
  virtual void cancel() = 0;
  /// Work in progress (open connections), for the graceful part of a stop.
  virtual std::size_t connections() const = 0;
  /// On SIGHUP: re-reads what may change while running (TLS certificates);
  /// a file that fails to load keeps what is in use, and says so in the log.
  virtual void reload() {}
};

}  // namespace damselfly
