// SPDX-License-Identifier: Apache-2.0
// deferred_calls: one steady_timer per pending call, kept in a list until it fires.
#include "damselfly/common/deferred_calls.hpp"

#include <boost/asio/steady_timer.hpp>
#include <list>

namespace damselfly {

namespace asio = boost::asio;

struct deferred_calls::impl {
  explicit impl(asio::any_io_executor e) : ex(std::move(e)) {}
  asio::any_io_executor ex;
  std::list<asio::steady_timer> timers;
  bool cancelled = false;
};

deferred_calls::deferred_calls(asio::any_io_executor ex)
    : impl_(std::make_shared<impl>(std::move(ex))) {}

deferred_calls::~deferred_calls() {
  cancel_all();
}

void deferred_calls::after(std::chrono::steady_clock::duration delay, std::function<void()> fn) {
  if (impl_->cancelled) return;
  auto& timer = impl_->timers.emplace_back(impl_->ex, delay);
  auto it = std::prev(impl_->timers.end());
  // The handler holds the state weakly: destroyed with its owner, it is done.
  std::weak_ptr<impl> weak = impl_;
  timer.async_wait([weak, it, fn = std::move(fn)](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec || self->cancelled) return;
    self->timers.erase(it);
    fn();
  });
}

void deferred_calls::cancel_all() {
  impl_->cancelled = true;
  for (auto& t : impl_->timers) t.cancel();
}

std::size_t deferred_calls::pending() const noexcept {
  return impl_->cancelled ? 0 : impl_->timers.size();
}

}  // namespace damselfly
