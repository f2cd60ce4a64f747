// SPDX-License-Identifier: Apache-2.0
// Signal handling and graceful stop for the daemons.
#include "damselfly/common/service_runner.hpp"

#include "damselfly/common/systemd_notify.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>

namespace damselfly {

void run_until_signalled(boost::asio::io_context& io, const std::function<void()>& stop,
                         const std::function<std::size_t()>& busy,
                         std::chrono::milliseconds grace) {
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer poll(io);
  auto deadline = std::chrono::steady_clock::now();
  std::function<void()> wait_for_quiet = [&] {
    if (busy() == 0 || std::chrono::steady_clock::now() >= deadline) {
      io.stop();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(50));
    poll.async_wait([&](const boost::system::error_code&) { wait_for_quiet(); });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    notify_service_manager("STOPPING=1");
    stop();
    deadline = std::chrono::steady_clock::now() + grace;
    wait_for_quiet();
  });
  // Listening already (the caller started its servers): tell systemd.
  notify_service_manager("READY=1");
  io.run();
  spdlog::info("stopped");
}

}  // namespace damselfly
