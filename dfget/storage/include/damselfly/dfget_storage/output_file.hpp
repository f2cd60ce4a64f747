// SPDX-License-Identifier: Apache-2.0
// The user's output file: written beside its final name, published only when complete.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>

#include "damselfly/common/direct_writer.hpp"
#include "damselfly/common/error.hpp"
#include "damselfly/common/unique_fd.hpp"
#include "damselfly/dfget_storage/piece_store.hpp"

namespace damselfly::dfget {

/// A hidden temporary file in the output's directory. commit() fsyncs it and
/// renames it over the final path (atomic on one filesystem); destroying an
/// uncommitted output_file removes the temporary, so a failed download never
/// leaves anything at the final path.
///
/// Block-aligned writes from block-aligned memory go through O_DIRECT where the
/// filesystem allows it: the data reaches the disk as it arrives, without a
/// copy into the page cache, so the final fsync has little left to do. Other
/// writes (the short last piece) use an ordinary descriptor on the same file.
class output_file final : public piece_store {
 public:
  /// Creates the temporary beside `final_path`; fails if its directory is missing or not writable.
  static result<std::unique_ptr<output_file>> create(const std::filesystem::path& final_path);
  /// Opens (or creates) the one resumable temporary of `final_path`,
  /// ".NAME.dfget.part", keeping what it holds. It is locked while open:
  /// a second dfget resuming the same output gets errc::busy.
  static result<std::unique_ptr<output_file>> open_resumable(
      const std::filesystem::path& final_path);
  /// Leaves the temporary on disk when this object goes (for a later resume).
  void keep() noexcept { keep_ = true; }
  ~output_file() override;

  error_code write(std::uint64_t offset, std::span<const std::byte> data) override;
  error_code read(std::uint64_t offset, std::span<std::byte> out) override;
  error_code sync() override;
  error_code reserve(std::uint64_t length) override;

  /// The temporary's descriptor (read-write), e.g. to hand to a daemon that fills it.
  int fd() const noexcept { return fd_.get(); }
  /// Sets the final size (and `mode`, when given: that of a file it
  /// replaces; `mtime`, when given: the source's modification time in
  /// seconds since the epoch), fsyncs, renames into place and fsyncs the directory.
  error_code commit(std::uint64_t length, std::optional<mode_t> mode = std::nullopt,
                    std::optional<std::int64_t> mtime = std::nullopt);
  /// Puts the daemon's cached file (`fd`, read-only) in place of the
  /// temporary: a hard link where the kernel allows one (one file system,
  /// and this user may link that file), otherwise a copy of its first
  /// `length` bytes. Linked, the temporary is that file, with this user's
  /// mode minus group and other write; commit() then leaves its size alone
  /// (cutting it would stamp the cache's file anew).
  error_code take_shared(int fd, std::uint64_t length);
  /// Whether take_shared() linked the cached file.
  bool shared() const noexcept { return shared_; }
  /// Writes the first `length` bytes, in order, to `fd` (a device, a pipe,
  /// stdout), for outputs that are not files to replace; the temporary
  /// goes when this object does.
  error_code stream_to(int fd, std::uint64_t length);
  const std::filesystem::path& temp_path() const noexcept { return temp_; }
  const std::filesystem::path& final_path() const noexcept { return final_; }

 private:
  output_file(std::filesystem::path final_path, std::filesystem::path temp, unique_fd fd,
              unique_fd direct_fd);
  std::filesystem::path final_;
  std::filesystem::path temp_;
  unique_fd fd_;
  direct_writer direct_;  ///< aligned pieces past the page cache, where supported
  bool committed_ = false;
  bool keep_ = false;
  bool shared_ = false;
};

}  // namespace damselfly::dfget
