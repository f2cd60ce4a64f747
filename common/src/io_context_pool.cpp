// SPDX-License-Identifier: Apache-2.0
// Single-threaded io_contexts, a thread each.
#include "damselfly/common/io_context_pool.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>
#include <thread>

namespace damselfly {

namespace asio = boost::asio;

struct io_context_pool::impl {
  using guard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::optional<guard>> guards;  ///< keep each context running while idle
  std::vector<asio::any_io_executor> executors;
  std::vector<std::thread> threads;
};

io_context_pool::io_context_pool(std::size_t threads) : impl_(std::make_unique<impl>()) {
  if (threads == 0) threads = 1;
  for (std::size_t i = 0; i < threads; ++i) {
    // Other threads post to it (answers coming back from the handlers'
    // thread): the hint of one thread keeps its locking.
    auto& ctx = impl_->contexts.emplace_back(std::make_unique<asio::io_context>(1));
    impl_->guards.emplace_back(std::in_place, ctx->get_executor());
    impl_->executors.emplace_back(ctx->get_executor());
  }
  for (auto& ctx : impl_->contexts) impl_->threads.emplace_back([c = ctx.get()] { c->run(); });
}

io_context_pool::~io_context_pool() {
  stop();
  join();
}

const std::vector<asio::any_io_executor>& io_context_pool::executors() const noexcept {
  return impl_->executors;
}

void io_context_pool::stop() {
  for (auto& ctx : impl_->contexts) ctx->stop();
}

void io_context_pool::join() {
  for (auto& g : impl_->guards) g.reset();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
}

}  // namespace damselfly
