// SPDX-License-Identifier: Apache-2.0
// Where a download's verified pieces go: the interface the download engine writes through.
#pragma once

#include <cstdint>
#include <span>

#include "damselfly/common/error.hpp"

namespace damselfly::dfget {

/// Random-access byte storage for one task. Implementations do plain file I/O;
/// write() and read() are called from several threads at once, for disjoint ranges.
class piece_store {
 public:
  virtual ~piece_store() = default;
  /// Writes all of `data` at `offset`.
  virtual error_code write(std::uint64_t offset, std::span<const std::byte> data) = 0;
  /// Reads exactly `out.size()` bytes at `offset`.
  virtual error_code read(std::uint64_t offset, std::span<std::byte> out) = 0;
  /// Makes everything written so far durable.
  virtual error_code sync() = 0;
  /// Whether `length` bytes of content will fit (checked once the length is
  /// known, so a file too large for the disk fails at once, not when full).
  virtual error_code reserve(std::uint64_t /*length*/) { return {}; }
};

}  // namespace damselfly::dfget
