// SPDX-License-Identifier: Apache-2.0
// Calls due later on one executor, all cancellable at once when their owner stops.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace damselfly {

/// Work to do a while from now (making a finished download durable, say)
/// that must not keep a stopping process waiting: cancel_all() drops every
/// call not yet made, and nothing is scheduled after it. Use it on its
/// executor's thread only.
class deferred_calls {
 public:
  explicit deferred_calls(boost::asio::any_io_executor ex);
  ~deferred_calls();
  deferred_calls(const deferred_calls&) = delete;
  deferred_calls& operator=(const deferred_calls&) = delete;

  /// Runs `fn` on the executor once `delay` has passed, unless cancelled first.
  void after(std::chrono::steady_clock::duration delay, std::function<void()> fn);
  /// Drops every pending call; later after() calls are ignored.
  void cancel_all();
  /// Calls not yet made.
  std::size_t pending() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace damselfly
