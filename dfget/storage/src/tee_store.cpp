// SPDX-License-Identifier: Apache-2.0
// tee_store: writes to both stores and remembers which ranges the copy holds.
#include "damselfly/dfget_storage/tee_store.hpp"

#include <algorithm>
#include <iterator>

namespace damselfly::dfget {

error_code tee_store::write(std::uint64_t offset, std::span<const std::byte> data) {
  if (auto ec = primary_.write(offset, data)) return ec;
  if (auto ec = copy_.write(offset, data)) return ec;
  std::uint64_t start = offset, end = offset + data.size();
  std::lock_guard lock(mu_);
  // Merge with every extent that touches [start, end).
  auto it = extents_.upper_bound(start);
  if (it != extents_.begin() && std::prev(it)->second >= start) --it;
  while (it != extents_.end() && it->first <= end) {
    start = std::min(start, it->first);
    end = std::max(end, it->second);
    it = extents_.erase(it);
  }
  extents_.emplace(start, end);
  return {};
}

error_code tee_store::read(std::uint64_t offset, std::span<std::byte> out) {
  return primary_.read(offset, out);
}

error_code tee_store::sync() {
  return primary_.sync();
}

error_code tee_store::reserve(std::uint64_t length) {
  if (auto ec = primary_.reserve(length)) return ec;
  return copy_.reserve(length);
}

error_code tee_store::fill_gaps(int from_fd, std::uint64_t length) {
  std::map<std::uint64_t, std::uint64_t> held;
  {
    std::lock_guard lock(mu_);
    held = extents_;
  }
  std::uint64_t at = 0;
  for (const auto& [start, end] : held) {
    if (at >= length) break;
    if (start > at) {
      if (auto ec = copy_.copy_from(from_fd, at, std::min(start, length) - at)) return ec;
    }
    at = std::max(at, end);
  }
  if (at < length) return copy_.copy_from(from_fd, at, length - at);
  return {};
}

std::uint64_t tee_store::written() const {
  std::lock_guard lock(mu_);
  std::uint64_t total = 0;
  for (const auto& [start, end] : extents_) total += end - start;
  return total;
}

}  // namespace damselfly::dfget
