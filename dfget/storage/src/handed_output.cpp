// SPDX-License-Identifier: Apache-2.0
// handed_output: checks of the received descriptor, and plain positional I/O on it.
#include "damselfly/dfget_storage/handed_output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "damselfly/common/file_io.hpp"

namespace damselfly::dfget {

result<std::unique_ptr<handed_output>> handed_output::adopt(unique_fd fd, std::string* why) {
  auto refuse = [&](std::string text) -> result<std::unique_ptr<handed_output>> {
    if (why) *why = std::move(text);
    return errc::invalid_argument;
  };
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0)
    return refuse("no output descriptor came with the request");
  // A device, pipe or socket is not a file to publish (nor to fill with a
  // copy meant for a file).
  if (!S_ISREG(st.st_mode)) return refuse("the output descriptor is not a regular file");
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || (flags & O_ACCMODE) != O_RDWR || (flags & O_APPEND) != 0)
    return refuse("the output descriptor is not open for reading and writing");
  auto self = "/proc/self/fd/" + std::to_string(fd.get());
  unique_fd direct(::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
  return std::unique_ptr<handed_output>(new handed_output(std::move(fd), std::move(direct)));
}

error_code handed_output::write(std::uint64_t offset, std::span<const std::byte> data) {
  return direct_.write(fd_.get(), offset, data);
}

error_code handed_output::read(std::uint64_t offset, std::span<std::byte> out) {
  return read_exact_at(fd_.get(), offset, out);
}

error_code handed_output::sync() {
  if (::fsync(fd_.get()) != 0) return last_system_error();
  return {};
}

error_code handed_output::reserve(std::uint64_t length) {
  return check_room(fd_.get(), length);
}

// An in-kernel copy (a reflink where the file system has them): measured
// faster here than reading the cache and writing past the page cache.
error_code handed_output::copy_from(int fd, std::uint64_t offset, std::uint64_t length) {
  return copy_range(fd, fd_.get(), offset, length);
}

bool handed_output::same_file_system(int fd) const {
  struct stat mine {
  }, theirs{};
  return ::fstat(fd_.get(), &mine) == 0 && ::fstat(fd, &theirs) == 0 &&
         mine.st_dev == theirs.st_dev;
}

error_code handed_output::finish(std::uint64_t length) {
  if (::ftruncate(fd_.get(), static_cast<off_t>(length)) != 0) return last_system_error();
  return sync();
}

}  // namespace damselfly::dfget
