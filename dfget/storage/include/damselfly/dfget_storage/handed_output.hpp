// SPDX-License-Identifier: Apache-2.0
// A client's output file that the daemon received as a descriptor: written with no path of its own.
#pragma once

#include <memory>
#include <string>

#include "damselfly/common/direct_writer.hpp"
#include "damselfly/common/error.hpp"
#include "damselfly/common/unique_fd.hpp"
#include "damselfly/dfget_storage/piece_store.hpp"

namespace damselfly::dfget {

/// The temporary output a local client created (as itself) and passed over
/// the daemon's socket. The daemon fills it but never names a path, so it
/// writes nothing the client could not have written; the client then
/// publishes it under the final name (output_file::commit).
class handed_output final : public piece_store {
 public:
  /// Takes `fd` if it is a regular file open for reading and writing, not
  /// in append mode; otherwise an error, with `why` saying what is wrong.
  static result<std::unique_ptr<handed_output>> adopt(unique_fd fd, std::string* why);

  error_code write(std::uint64_t offset, std::span<const std::byte> data) override;
  error_code read(std::uint64_t offset, std::span<std::byte> out) override;
  error_code sync() override;
  error_code reserve(std::uint64_t length) override;

  /// Copies `length` bytes at `offset` of `fd` to the same place in the file.
  error_code copy_from(int fd, std::uint64_t offset, std::uint64_t length);
  /// Whether `fd` is a file on this one's file system (a hard link between
  /// them can exist).
  bool same_file_system(int fd) const;
  /// Cuts the file to `length` bytes and makes it durable.
  error_code finish(std::uint64_t length);

 private:
  handed_output(unique_fd fd, unique_fd direct_fd)
      : fd_(std::move(fd)), direct_(std::move(direct_fd)) {}
  unique_fd fd_;
  /// The same file opened again with O_DIRECT through /proc/self/fd (the
  /// inode the client handed over, no path of its): block-aligned pieces go
  /// to the disk without a copy into the page cache. None where the file
  /// system or the file's permissions do not allow it.
  direct_writer direct_;
};

}  // namespace damselfly::dfget
