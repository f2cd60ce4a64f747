// SPDX-License-Identifier: Apache-2.0
// Signal handling and graceful stop for the daemons: stop, drain, cancel, unwind.
#include "damselfly/common/service_runner.hpp"

#include "damselfly/common/systemd_notify.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace damselfly {

namespace {

/// Stops `io` from another thread if it has not run out of work by the deadline.
class stop_watch {
 public:
  explicit stop_watch(boost::asio::io_context& io) : io_(io) {}
  ~stop_watch() {
    {
      std::lock_guard lock(mu_);
      over_ = true;
    }
    cv_.notify_all();
    if (thread_) thread_->join();
  }
  void arm(std::chrono::milliseconds grace) {
    thread_.emplace([this, grace] {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, grace, [this] { return over_; })) {
        forced_ = true;
        io_.stop();
      }
    });
  }
  bool forced() {
    std::lock_guard lock(mu_);
    return forced_;
  }

 private:
  boost::asio::io_context& io_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool over_ = false;
  bool forced_ = false;
  std::optional<std::thread> thread_;
};

}  // namespace

bool run_until_signalled(boost::asio::io_context& io, service& svc,
                         std::chrono::milliseconds grace) {
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer poll(io);
  stop_watch watch(io);
  auto deadline = std::chrono::steady_clock::now();
  std::function<void()> wait_for_quiet = [&] {
    if (svc.connections() == 0 || std::chrono::steady_clock::now() >= deadline) {
      // Whatever still runs is cancelled; io.run() returns when it has unwound.
      svc.cancel();
      watch.arm(grace);
      return;
    }
    poll.expires_after(std::chrono::milliseconds(50));
    poll.async_wait([&](const boost::system::error_code&) { wait_for_quiet(); });
  };
  boost::asio::signal_set hangups(io, SIGHUP);
  std::function<void()> wait_for_hangup = [&] {
    hangups.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      spdlog::info("SIGHUP: reloading");
      notify_service_manager("RELOADING=1");
      svc.reload();
      notify_service_manager("READY=1");
      wait_for_hangup();
    });
  };
  wait_for_hangup();
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    notify_service_manager("STOPPING=1");
    hangups.cancel();
    svc.stop();
    deadline = std::chrono::steady_clock::now() + grace;
    wait_for_quiet();
  });
  // Listening already (the caller started its servers): tell systemd.
  notify_service_manager("READY=1");
  io.run();
  if (watch.forced()) {
    spdlog::error("work still running {} ms after it was cancelled; stopping anyway",
                  grace.count());
    return false;
  }
  spdlog::info("stopped");
  return true;
}

}  // namespace damselfly
