// SPDX-License-Identifier: Apache-2.0
// Page-aligned, reusable memory for one piece (fit for O_DIRECT writes).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>

namespace damselfly {

/// Capacity grows to the largest piece seen and is kept, so a download reuses
/// a few buffers instead of faulting in fresh memory for every piece.
class aligned_buffer {
 public:
  static constexpr std::size_t alignment = 4096;

  /// A view of the first `size` bytes, growing the allocation if needed.
  std::span<std::byte> prepare(std::size_t size) {
    if (size > capacity_) {
      std::size_t cap = (size + alignment - 1) / alignment * alignment;
      void* p = std::aligned_alloc(alignment, cap);
      if (!p) throw std::bad_alloc();
      data_.reset(static_cast<std::byte*>(p));
      capacity_ = cap;
    }
    size_ = size;
    return {data_.get(), size_};
  }
  std::span<const std::byte> view() const noexcept { return {data_.get(), size_}; }

 private:
  struct free_deleter {
    void operator()(std::byte* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<std::byte, free_deleter> data_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
};

}  // namespace damselfly
