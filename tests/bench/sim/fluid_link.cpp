// SPDX-License-Identifier: Apache-2.0
// An upload link shared equally by the transfers on it, in virtual time.
#include "fluid_link.hpp"

#include <cassert>

namespace damselfly::sim {

void fluid_link::advance(double now) {
  if (!finish_.empty() && now > t_) v_ += (now - t_) * rate_ / static_cast<double>(finish_.size());
  t_ = now;
}

fluid_link::id fluid_link::start(double bytes, double now) {
  advance(now);
  auto t = next_id_++;
  double end = v_ + bytes;
  finish_.emplace(end, t);
  ends_at_[t] = end;
  ++version_;
  return t;
}

void fluid_link::cancel(id transfer, double now) {
  auto it = ends_at_.find(transfer);
  if (it == ends_at_.end()) return;
  advance(now);
  finish_.erase({it->second, transfer});
  ends_at_.erase(it);
  ++version_;
}

double fluid_link::next_end() const {
  if (finish_.empty()) return never;
  double left = finish_.begin()->first - v_;
  return t_ + (left > 0 ? left : 0) * static_cast<double>(finish_.size()) / rate_;
}

fluid_link::id fluid_link::pop_ended(double now) {
  assert(!finish_.empty());
  advance(now);
  auto [end, t] = *finish_.begin();
  // Rounding may leave the clock a hair short of the end: it is the end.
  if (v_ < end) v_ = end;
  finish_.erase(finish_.begin());
  ends_at_.erase(t);
  ++version_;
  return t;
}

}  // namespace damselfly::sim
