// SPDX-License-Identifier: Apache-2.0
// Append-only record of verified pieces, so a killed download loses none of them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "damselfly/common/error.hpp"
#include "damselfly/common/unique_fd.hpp"

namespace damselfly::dfget {

/// One line per verified piece, appended without fsync as each piece lands.
/// A process killed at any moment leaves its pieces and this journal in the
/// page cache, so both survive; a power loss may not have written the pieces,
/// so the journal names the boot it was written in and a reader from another
/// boot ignores it (the fsynced bitmap alone counts then).
class piece_journal {
 public:
  piece_journal() = default;
  /// Opens `path` for appending, starting it (with this boot's id) when it is
  /// missing or from another boot.
  static result<piece_journal> open(const std::filesystem::path& path);
  /// Pieces recorded at `path` in this boot; empty when missing or from another boot.
  static std::vector<std::uint64_t> load(const std::filesystem::path& path);
  /// Records one verified piece (the data must already be written).
  error_code append(std::uint64_t piece);
  bool is_open() const noexcept { return static_cast<bool>(fd_); }

 private:
  explicit piece_journal(unique_fd fd) : fd_(std::move(fd)) {}
  unique_fd fd_;
};

}  // namespace damselfly::dfget
