// SPDX-License-Identifier: Apache-2.0
// Running blocking work (hashing, disk) on a thread pool from a coroutine, and coming back.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace damselfly {

/// Runs `work()` on `pool` and resumes the calling coroutine on its own
/// executor with the result (an exception `work` throws is rethrown here).
/// `co_await asio::post(pool, use_awaitable)` looks like the same thing but
/// is not: its completion is dispatched to the coroutine's executor, so the
/// work after it would run on the caller's thread after all.
template <class Executor, class Work>
boost::asio::awaitable<std::invoke_result_t<Work&>> offload(Executor pool, Work work) {
  using result = std::invoke_result_t<Work&>;
  co_return co_await boost::asio::co_spawn(
      std::move(pool),
      [w = std::move(work)]() mutable -> boost::asio::awaitable<result> { co_return w(); },
      boost::asio::use_awaitable);
}

}  // namespace damselfly
