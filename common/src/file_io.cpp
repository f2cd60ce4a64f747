// SPDX-License-Identifier: Apache-2.0
// pwrite/pread loops.
#include "damselfly/common/file_io.hpp"

#include <unistd.h>

#include <cerrno>

namespace damselfly {

error_code last_system_error() {
  return {errno, boost::system::system_category()};
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
