// SPDX-License-Identifier: Apache-2.0
// An awaitable event: coroutines wait for a notification instead of polling on timers.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <vector>

namespace boost::asio {
template <typename Clock, typename WaitTraits, typename Executor>
class basic_waitable_timer;
}

namespace damselfly {

/// Wakes every coroutine waiting at the time of notify(); use from one
/// executor (strand) only. A waiter re-checks its condition after waking.
class async_event {
 public:
  explicit async_event(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}
  async_event(const async_event&) = delete;
  async_event& operator=(const async_event&) = delete;

  void notify();
  /// Suspends until notify() or `timeout`; true when notified.
  boost::asio::awaitable<bool> wait_for(std::chrono::milliseconds timeout);
  /// Suspends until notify().
  boost::asio::awaitable<void> wait();

 private:
  boost::asio::any_io_executor ex_;
  std::vector<void*> waiters_;  ///< the timers of the coroutines waiting now
};

}  // namespace damselfly
