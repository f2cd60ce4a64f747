// SPDX-License-Identifier: Apache-2.0
// A piece on its way in: its buffer, and its digest computed slice by slice as bytes land.
#include "piece_landing.hpp"

namespace damselfly::dfget {

void piece_landing::hash_landed() {
  std::lock_guard lock(m_);
  auto to = landed.load(std::memory_order_acquire);
  if (to <= hashed_) return;
  hash_.update(buf.view().subspan(hashed_, to - hashed_));
  hashed_ = to;
}

std::string piece_landing::finish() {
  std::lock_guard lock(m_);
  return hash_.finish();
}

aligned_buffer piece_landing::take_buffer() {
  std::lock_guard lock(m_);
  return std::move(buf);
}

}  // namespace damselfly::dfget
