// SPDX-License-Identifier: Apache-2.0
// task_group, async_event and deferred_calls: members are cancelled and joined, waiters wake on
// notify, calls come when due or not at all.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "damselfly/common/async_event.hpp"
#include "damselfly/common/deferred_calls.hpp"
#include "damselfly/common/task_group.hpp"

using namespace damselfly;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

/// Sleeps in a loop until cancelled; counts how it ended.
asio::awaitable<void> sleeper(int& finished) {
  struct count {
    int& n;
    ~count() { ++n; }
  } c{finished};
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (;;) {
    t.expires_after(10s);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace

TEST(task_group, cancel_then_join_unwinds_every_member) {
  asio::io_context io;
  task_group g(io.get_executor(), "test");
  int finished = 0;
  for (int i = 0; i < 5; ++i) g.spawn(sleeper(finished));
  bool joined = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(io, 20ms);
        co_await t.async_wait(asio::use_awaitable);
        EXPECT_EQ(g.size(), 5u);
        g.cancel();
        co_await g.join();
        joined = true;
      },
      asio::detached);
  auto ran = io.run_for(5s);
  (void)ran;
  EXPECT_TRUE(joined);
  EXPECT_EQ(finished, 5);
  EXPECT_EQ(g.size(), 0u);
}

TEST(task_group, a_member_spawned_after_cancel_starts_cancelled) {
  asio::io_context io;
  task_group g(io.get_executor(), "test");
  int finished = 0;
  g.cancel();
  g.spawn(sleeper(finished));
  io.run_for(5s);
  EXPECT_EQ(finished, 1);
  EXPECT_EQ(g.size(), 0u);
}

TEST(task_group, a_throwing_member_is_logged_and_does_not_take_the_others_down) {
  asio::io_context io;
  task_group g(io.get_executor(), "test");
  int finished = 0;
  g.spawn([]() -> asio::awaitable<void> {
    throw std::runtime_error("bug");
    co_return;
  }());
  g.spawn(sleeper(finished));
  io.run_for(50ms);
  EXPECT_EQ(g.size(), 1u);
  g.cancel();
  io.restart();
  io.run_for(5s);
  EXPECT_EQ(finished, 1);
}

TEST(async_event, notify_wakes_every_waiter_and_timeouts_say_false) {
  asio::io_context io;
  async_event ev(io.get_executor());
  int woken = 0, timed_out = 0;
  auto waiter = [&](std::chrono::milliseconds limit) -> asio::awaitable<void> {
    if (co_await ev.wait_for(limit))
      ++woken;
    else
      ++timed_out;
  };
  asio::co_spawn(io, waiter(10s), asio::detached);
  asio::co_spawn(io, waiter(10s), asio::detached);
  asio::co_spawn(io, waiter(5ms), asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(io, 50ms);
        co_await t.async_wait(asio::use_awaitable);
        ev.notify();
      },
      asio::detached);
  io.run_for(5s);
  EXPECT_EQ(woken, 2);
  EXPECT_EQ(timed_out, 1);
}

TEST(DeferredCalls, RunWhenDueAndCancellingThemLetsTheLoopEndAtOnce) {
  asio::io_context io;
  deferred_calls later(io.get_executor());
  std::vector<int> ran;
  later.after(20ms, [&] { ran.push_back(2); });
  later.after(5ms, [&] { ran.push_back(1); });
  EXPECT_EQ(later.pending(), 2u);
  io.run();
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_EQ(later.pending(), 0u);
  // A stopping owner: an hour-long wait must not hold the loop.
  io.restart();
  later.after(std::chrono::hours(1), [&] { ran.push_back(3); });
  asio::post(io, [&] { later.cancel_all(); });
  auto started = std::chrono::steady_clock::now();
  io.run();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  later.after(1ms, [&] { ran.push_back(4); });  // after cancel_all: ignored
  io.restart();
  io.run();
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
}
