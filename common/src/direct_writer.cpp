// SPDX-License-Identifier: Apache-2.0
// direct_writer: choosing the O_DIRECT or the buffered descriptor for each write.
#include "damselfly/common/direct_writer.hpp"

#include <fcntl.h>

#include <cstdint>

#include "damselfly/common/file_io.hpp"

namespace damselfly {

direct_writer direct_writer::open(const char* path) {
  return direct_writer(unique_fd(::open(path, O_WRONLY | O_DIRECT | O_CLOEXEC)));
}

bool direct_writer::takes(std::uint64_t offset, std::span<const std::byte> data) const noexcept {
  bool aligned = offset % alignment == 0 && data.size() % alignment == 0 &&
                 reinterpret_cast<std::uintptr_t>(data.data()) % alignment == 0;
  return aligned && usable_.load(std::memory_order_relaxed);
}

error_code direct_writer::write(int buffered, std::uint64_t offset,
                                std::span<const std::byte> data) {
  if (takes(offset, data)) {
    auto ec = write_all_at(fd_.get(), offset, data);
    if (ec != std::errc::invalid_argument) return ec;
    usable_.store(false, std::memory_order_relaxed);  // the file system takes no direct writes
  }
  return write_all_at(buffered, offset, data);
}

}  // namespace damselfly
