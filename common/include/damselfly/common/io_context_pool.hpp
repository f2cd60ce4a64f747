// SPDX-License-Identifier: Apache-2.0
// Single-threaded io_contexts, a thread each: what runs on one stays on its thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <memory>
#include <vector>

namespace damselfly {

/// N io_contexts, each run by one thread of its own. Unlike a thread pool,
/// a coroutine started on one of them resumes on the same thread at every
/// suspension: a server's connection never moves between threads, so
/// nothing it owns is touched by two (and ThreadSanitizer under clang 16,
/// whose coroutine frames cache thread-local addresses across a
/// suspension, llvm/llvm-project#63022, sees what really happens).
class io_context_pool {
 public:
  /// Starts `threads` (at least one) contexts and their threads.
  explicit io_context_pool(std::size_t threads);
  /// stop() and join().
  ~io_context_pool();
  io_context_pool(const io_context_pool&) = delete;
  io_context_pool& operator=(const io_context_pool&) = delete;

  /// One executor per context, in a fixed order.
  const std::vector<boost::asio::any_io_executor>& executors() const noexcept;
  /// Stops every context: handlers not yet run are not run.
  void stop();
  /// Lets each context end once it has no work left, and waits for the threads.
  void join();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace damselfly
