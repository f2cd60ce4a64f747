// SPDX-License-Identifier: Apache-2.0
// pwrite/pread loops.
#include "damselfly/common/file_io.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

namespace damselfly {

error_code last_system_error() {
  return {errno, boost::system::system_category()};
}

error_code replace_file(const std::filesystem::path& path, std::string_view text) {
  auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) return errc::io_error;
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
