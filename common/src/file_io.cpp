// SPDX-License-Identifier: Apache-2.0
// pwrite/pread loops.
#include "damselfly/common/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <span>
#include <vector>

#include "damselfly/common/unique_fd.hpp"

namespace damselfly {

error_code last_system_error() {
  return {errno, boost::system::system_category()};
}

error_code replace_file(const std::filesystem::path& path, std::string_view text, unsigned mode) {
  auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                        static_cast<mode_t>(mode)));
    if (!fd) return last_system_error();
    if (auto ec = write_all_at(fd.get(), 0, std::as_bytes(std::span(text.data(), text.size()))))
      return ec;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return ec ? error_code(errc::io_error) : error_code{};
}

std::uint64_t directory_disk_usage(const std::filesystem::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st {};
    if (::stat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
      total += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

std::uint64_t filesystem_free_space(const std::filesystem::path& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) return 0;
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

std::uint64_t filesystem_size(const std::filesystem::path& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) return 0;
  // Blocks reserved for root are usable by neither daemon: leave them out, so
  // free/size reaches 0 when writes start failing.
  auto usable = vfs.f_blocks - (vfs.f_bfree - vfs.f_bavail);
  return static_cast<std::uint64_t>(usable) * vfs.f_frsize;
}

error_code make_private_dir(const std::filesystem::path& dir, std::string* why,
                            bool follow_symlink) {
  auto say = [&](std::string message, error_code ec) {
    if (why) *why = std::move(message);
    return ec;
  };
  std::error_code fec;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), fec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    auto ec = last_system_error();
    return say("cannot create " + dir.string() + ": " + ec.message(), ec);
  }
  struct stat st {};
  if ((follow_symlink ? ::stat(dir.c_str(), &st) : ::lstat(dir.c_str(), &st)) != 0) {
    auto ec = last_system_error();
    return say("cannot inspect " + dir.string() + ": " + ec.message(), ec);
  }
  if (!S_ISDIR(st.st_mode))
    return say(dir.string() + " is not a directory (a symlink or a file is not taken)",
               errc::invalid_argument);
  if (st.st_uid != ::geteuid())
    return say(dir.string() + " belongs to another user; remove it or choose another path",
               errc::invalid_argument);
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
    auto ec = last_system_error();
    return say("cannot make " + dir.string() + " private: " + ec.message(), ec);
  }
  return {};
}

error_code check_room(int fd, std::uint64_t length) {
  struct stat st {};
  struct statvfs vfs {};
  if (::fstat(fd, &st) != 0 || ::fstatvfs(fd, &vfs) != 0) return last_system_error();
  auto held = static_cast<std::uint64_t>(st.st_blocks) * 512;
  auto free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (length > held && length - held > free_bytes)
    return error_code(ENOSPC, boost::system::system_category());
  return {};
}

result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_bytes) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) return last_system_error();
  if (!S_ISREG(st.st_mode)) return errc::invalid_argument;
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return error_code(EFBIG, boost::system::system_category());
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  if (auto ec = read_exact_at(fd.get(), 0, std::as_writable_bytes(std::span(text)))) return ec;
  return text;
}

std::string current_boot_id() {
  // Fixed for the life of the process: read once, not at every save.
  static const std::string id = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string text;
    std::getline(in, text);
    return text;
  }();
  return id;
}

namespace {

error_code copy_by_hand(int from, int to, std::uint64_t at, std::uint64_t end) {
  std::vector<std::byte> block(1u << 20);
  while (at < end) {
    auto chunk = std::span(block).first(
        static_cast<std::size_t>(std::min<std::uint64_t>(end - at, block.size())));
    if (auto ec = read_exact_at(from, at, chunk)) return ec;
    if (auto ec = write_all_at(to, at, chunk)) return ec;
    at += chunk.size();
  }
  return {};
}

}  // namespace

error_code copy_range(int from, int to, std::uint64_t offset, std::uint64_t length) {
  auto in = static_cast<loff_t>(offset), out = static_cast<loff_t>(offset);
  const auto end = offset + length;
  while (static_cast<std::uint64_t>(in) < end) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(end - in, 64u << 20));
    ssize_t n = ::copy_file_range(from, &in, to, &out, want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Two file systems (EXDEV), or files the call does not take: copied by hand.
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
        return copy_by_hand(from, to, static_cast<std::uint64_t>(in), end);
      return last_system_error();
    }
    if (n == 0) return errc::io_error;  // the source is shorter than promised
  }
  return {};
}

error_code write_all_at(int fd, std::uint64_t offset, std::span<const std::byte> data) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_system_error();
    }
    data = data.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

error_code read_exact_at(int fd, std::uint64_t offset, std::span<std::byte> out) {
  while (!out.empty()) {
    ssize_t n = ::pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_system_error();
    }
    if (n == 0) return errc::io_error;
    out = out.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace damselfly
