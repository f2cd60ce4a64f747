// SPDX-License-Identifier: Apache-2.0
// The supernode service: origin cache, scheduler and HTTP API on one executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>

#include "damselfly/common/error.hpp"
#include "damselfly/common/service.hpp"
#include "damselfly/supernode/config.hpp"

namespace damselfly::supernode {

/// Runs on a single-threaded executor: all task state is touched from it
/// only. With connection_threads, connections run on a pool of that many
/// threads of its own, and every request is handled on the executor.
class supernode final : public service {
 public:
  supernode(boost::asio::any_io_executor ex, supernode_config cfg);
  ~supernode() override;
  supernode(const supernode&) = delete;
  supernode& operator=(const supernode&) = delete;

  /// Prepares the data dir, loads the cache and starts listening; returns the bound port.
  result<std::uint16_t> start() override;
  /// Stops accepting and ends background work; in-flight answers finish.
  void stop() override;
  /// After stop(): closes every connection and cancels origin fetches, so
  /// every coroutine unwinds and the executor runs out of work.
  void cancel() override;
  /// Client connections currently open (for a graceful shutdown).
  std::size_t connections() const override;
  /// Loads the TLS certificate and key again; new connections use them.
  void reload() override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace damselfly::supernode
