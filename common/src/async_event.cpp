// SPDX-License-Identifier: Apache-2.0
// async_event: one timer per waiter, cancelled to wake it.
#include "damselfly/common/async_event.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace damselfly {

namespace asio = boost::asio;

void async_event::notify() {
  auto waiting = std::move(waiters_);
  waiters_.clear();
  for (void* w : waiting) static_cast<asio::steady_timer*>(w)->cancel();
}

asio::awaitable<bool> async_event::wait_for(std::chrono::milliseconds timeout) {
  asio::steady_timer timer(ex_);
  if (timeout == std::chrono::milliseconds::max())
    timer.expires_at(asio::steady_timer::time_point::max());
  else
    timer.expires_after(timeout);
  waiters_.push_back(&timer);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  // Still listed when the timeout (or a cancellation of the coroutine) woke it.
  auto it = std::find(waiters_.begin(), waiters_.end(), static_cast<void*>(&timer));
  bool notified = it == waiters_.end();
  if (!notified) waiters_.erase(it);
  co_return notified;
}

asio::awaitable<void> async_event::wait() {
  co_await wait_for(std::chrono::milliseconds::max());
}

}  // namespace damselfly
