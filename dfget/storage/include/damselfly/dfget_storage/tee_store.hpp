// SPDX-License-Identifier: Apache-2.0
// A daemon's download written to its cache and to the client's output at once.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include "damselfly/dfget_storage/handed_output.hpp"
#include "damselfly/dfget_storage/piece_store.hpp"

namespace damselfly::dfget {

/// Every verified write goes to `primary` (the daemon's task file, which
/// serves peers) and then to `copy` (the client's output), so the output is
/// complete when the download is, instead of being copied afterwards. What
/// never passed through (pieces held before this download) is copied by
/// fill_gaps().
class tee_store final : public piece_store {
 public:
  tee_store(piece_store& primary, handed_output& copy) : primary_(primary), copy_(copy) {}

  error_code write(std::uint64_t offset, std::span<const std::byte> data) override;
  error_code read(std::uint64_t offset, std::span<std::byte> out) override;
  error_code sync() override;
  error_code reserve(std::uint64_t length) override;

  /// Copies from `from_fd` the parts of the first `length` bytes that were
  /// not written through this store.
  error_code fill_gaps(int from_fd, std::uint64_t length);
  /// Bytes of the output written through this store.
  std::uint64_t written() const;

 private:
  piece_store& primary_;
  handed_output& copy_;
  mutable std::mutex mu_;
  std::map<std::uint64_t, std::uint64_t> extents_;  ///< start -> end, disjoint, merged
};

}  // namespace damselfly::dfget
