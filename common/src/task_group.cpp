// SPDX-License-Identifier: Apache-2.0
// task_group: members with their own cancellation signals, joined through an event.
#include "damselfly/common/task_group.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <mutex>
#include <set>

#include "damselfly/common/async_event.hpp"

namespace damselfly {

namespace asio = boost::asio;

namespace {

struct member {
  explicit member(asio::any_io_executor e) : ex(std::move(e)) {}
  asio::any_io_executor ex;
  asio::cancellation_signal signal;
};

void log_failure(const std::string& group, std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted)
      spdlog::error("{}: a task ended with an error: {}", group, e.what());
  } catch (const std::exception& e) {
    spdlog::error("{}: a task threw: {}", group, e.what());
  } catch (...) {
    spdlog::error("{}: a task threw an unknown exception", group);
  }
}

}  // namespace

struct task_group::state {
  state(asio::any_io_executor e, std::string n) : ex(e), name(std::move(n)), finished(e) {}
  asio::any_io_executor ex;
  std::string name;
  async_event finished;  ///< used on `ex` only
  mutable std::mutex mu;
  std::set<std::shared_ptr<member>> members;
  bool cancelled = false;
};

task_group::task_group(asio::any_io_executor ex, std::string name)
    : state_(std::make_shared<state>(std::move(ex), std::move(name))) {}

task_group::~task_group() = default;

void task_group::spawn(asio::awaitable<void> work) {
  spawn(state_->ex, std::move(work));
}

void task_group::spawn(asio::any_io_executor ex, asio::awaitable<void> work) {
  auto m = std::make_shared<member>(ex);
  bool cancelled = false;
  {
    std::lock_guard lock(state_->mu);
    state_->members.insert(m);
    cancelled = state_->cancelled;
  }
  auto st = state_;
  asio::co_spawn(ex, std::move(work),
                 asio::bind_cancellation_slot(m->signal.slot(), [st, m](std::exception_ptr ep) {
                   if (ep) log_failure(st->name, ep);
                   {
                     std::lock_guard lock(st->mu);
                     st->members.erase(m);
                   }
                   asio::post(st->ex, [st] { st->finished.notify(); });
                 }));
  if (cancelled) asio::post(ex, [m] { m->signal.emit(asio::cancellation_type::terminal); });
}

void task_group::cancel() {
  std::lock_guard lock(state_->mu);
  state_->cancelled = true;
  for (const auto& m : state_->members)
    asio::post(m->ex, [m] { m->signal.emit(asio::cancellation_type::terminal); });
}

std::size_t task_group::size() const {
  std::lock_guard lock(state_->mu);
  return state_->members.size();
}

asio::awaitable<void> task_group::join() {
  // A parent cancelled while joining passes the cancellation on to its
  // children and still waits for them; it unwinds at its next operation after.
  co_await asio::this_coro::throw_if_cancelled(false);
  auto st = state_;
  while (size() > 0) {
    co_await st->finished.wait_for(std::chrono::seconds(1));
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) cancel();
  }
  co_await asio::this_coro::throw_if_cancelled(true);
}

}  // namespace damselfly
