// SPDX-License-Identifier: Apache-2.0
// Block-aligned writes past the page cache (O_DIRECT), everything else through the usual
// descriptor.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

#include "damselfly/common/error.hpp"
#include "damselfly/common/unique_fd.hpp"

namespace damselfly {

/// A second descriptor of a file, opened with O_DIRECT. Pieces that are
/// block-aligned in offset, length and memory go to the disk without a copy
/// into the page cache (on a busy node that copy costs more CPU than hashing
/// them); other writes, and every write once the file system has refused a
/// direct one, take the buffered descriptor. Safe to use from several threads.
class direct_writer {
 public:
  static constexpr std::size_t alignment = 4096;

  direct_writer() = default;
  /// `direct` may be empty (no O_DIRECT here): every write is buffered then.
  explicit direct_writer(unique_fd direct) : fd_(std::move(direct)), usable_(bool(fd_)) {}

  /// Opens `path` again for O_DIRECT writing; empty where that is refused.
  static direct_writer open(const char* path);

  /// Whether a write of `data` at `offset` would go past the page cache.
  bool takes(std::uint64_t offset, std::span<const std::byte> data) const noexcept;
  /// Writes all of `data` at `offset`: directly when it can, else through `buffered`.
  error_code write(int buffered, std::uint64_t offset, std::span<const std::byte> data);

 private:
  unique_fd fd_;
  std::atomic<bool> usable_{false};
};

}  // namespace damselfly
