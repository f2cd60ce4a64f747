// SPDX-License-Identifier: Apache-2.0
// Running blocking work (hashing, disk) on a thread pool from a coroutine, and coming back.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace damselfly {

namespace detail {
/// co_spawn's completion token for work the caller's cancellation must not
/// reach (see offload()): awaited, with an empty cancellation slot.
inline auto uncancellable() {
  return boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(),
                                             boost::asio::use_awaitable);
}
}  // namespace detail

/// Runs `work()` on `pool` and resumes the calling coroutine on its own
/// executor with the result (an exception `work` throws is rethrown here).
/// `co_await asio::post(pool, use_awaitable)` looks like the same thing but
/// is not: its completion is dispatched to the coroutine's executor, so the
/// work after it would run on the caller's thread after all.
///
/// The work is not cancellable: a cancellation of the caller meanwhile takes
/// effect when it resumes (it throws there, as at any other co_await). Tied
/// to the caller's cancellation, the spawned coroutine would throw from
/// inside asio after its work was done, where nothing can catch it (seen:
/// dfget aborting on Ctrl-C).
template <class Executor, class Work>
boost::asio::awaitable<std::invoke_result_t<Work&>> offload(Executor pool, Work work) {
  using result = std::invoke_result_t<Work&>;
  // A named object, not a temporary of the co_await expression: GCC 12
  // destroys such temporaries twice when they own memory (work capturing a
  // string crashed the supernode).
  auto run = [w = std::move(work)]() mutable -> boost::asio::awaitable<result> { co_return w(); };
  co_return co_await boost::asio::co_spawn(std::move(pool), std::move(run),
                                           detail::uncancellable());
}

/// Awaits `op` run on `ex`, or right here when `ex` is empty; not
/// cancellable either (see offload()).
template <class T>
boost::asio::awaitable<T> run_on(boost::asio::any_io_executor ex, boost::asio::awaitable<T> op) {
  if (!ex) co_return co_await std::move(op);
  co_return co_await boost::asio::co_spawn(std::move(ex), std::move(op), detail::uncancellable());
}

}  // namespace damselfly
