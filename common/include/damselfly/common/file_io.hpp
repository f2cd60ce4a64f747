// SPDX-License-Identifier: Apache-2.0
// Positional whole-buffer file reads and writes that retry short transfers and EINTR.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "damselfly/common/error.hpp"

namespace damselfly {

/// Writes all of `data` at `offset` of `fd` (pwrite until done).
error_code write_all_at(int fd, std::uint64_t offset, std::span<const std::byte> data);

/// Reads exactly `out.size()` bytes at `offset` of `fd`; errc::io_error at end of file.
error_code read_exact_at(int fd, std::uint64_t offset, std::span<std::byte> out);

/// Copies `length` bytes at `offset` of `from` to the same offset of `to` in the
/// kernel (copy_file_range: a reflink or server-side copy where the
/// filesystems offer one); errc::io_error if `from` is shorter.
/// This boot's id (/proc/sys/kernel/random/boot_id); empty where unavailable.
/// What was written without a flush counts only within the boot it names.
std::string current_boot_id();

error_code copy_range(int from, int to, std::uint64_t offset, std::uint64_t length);

/// The whole content of the regular file `path`, if it is at most
/// `max_bytes` long (EFBIG otherwise).
result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_bytes);

/// Bytes the regular files directly inside `dir` occupy on disk (allocated blocks).
std::uint64_t directory_disk_usage(const std::filesystem::path& dir);

/// Bytes available to unprivileged writers on the filesystem holding `path`; 0 on error.
std::uint64_t filesystem_free_space(const std::filesystem::path& path);

/// Size of the filesystem holding `path` as unprivileged writers see it
/// (free space plus what is in use, without the root reserve); 0 on error.
std::uint64_t filesystem_size(const std::filesystem::path& path);

/// The current errno as an error_code.
error_code last_system_error();

/// Whether the file open as `fd` can grow to `length` bytes: the blocks it
/// lacks fit in its filesystem's free space. ENOSPC when they do not.
error_code check_room(int fd, std::uint64_t length);

/// Replaces `path` with `text` atomically: written to "<path>.tmp", then
/// renamed over it, so a reader sees the old content or the new, never half.
/// `mode` applies to a file it creates (the umask still removes bits).
error_code replace_file(const std::filesystem::path& path, std::string_view text,
                        unsigned mode = 0644);

/// Makes `dir` (and missing parents) a directory only this user can enter:
/// creates it 0700, or tightens an existing one of ours to 0700. A
/// non-directory or a directory of another user is refused (`why` says
/// which), so a directory someone else prepared cannot be slipped in; so is
/// a symlink, unless `follow_symlink` (a path the operator configured, such
/// as systemd's StateDirectory= link for a dynamic user).
error_code make_private_dir(const std::filesystem::path& dir, std::string* why = nullptr,
                            bool follow_symlink = false);

}  // namespace damselfly
