// SPDX-License-Identifier: Apache-2.0
// Structured concurrency: coroutines spawned into a group that its owner cancels and joins.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <memory>
#include <string>

namespace damselfly {

/// Owns the coroutines it spawns, like seastar's gate or the task_group of
/// Beast's advanced_server_flex_awaitable example: nothing is detached. A
/// member's exception is logged (cancellation is not an error); cancel() asks
/// every member to stop at its next suspension; join() waits for all of them.
/// The owner joins before the state the members use goes away.
class task_group {
 public:
  /// `name` appears in the log line of a member that failed.
  task_group(boost::asio::any_io_executor ex, std::string name);
  ~task_group();
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;

  /// Starts `work` on `ex` (default: the group's executor). After cancel(),
  /// new members start cancelled.
  void spawn(boost::asio::awaitable<void> work);
  void spawn(boost::asio::any_io_executor ex, boost::asio::awaitable<void> work);
  /// Terminal cancellation of every member, each on its own executor.
  void cancel();
  /// Members still running.
  std::size_t size() const;
  /// Waits until no member runs. Cancelling the waiter cancels the members
  /// but still waits for them: a parent never leaves before its children.
  /// A parent that may already be cancelled turns off
  /// `this_coro::throw_if_cancelled` before `co_await join()` (else that
  /// co_await itself throws); join() turns it back on when it returns.
  boost::asio::awaitable<void> join();

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace damselfly
