// SPDX-License-Identifier: Apache-2.0
// in_page_cache (mincore over a mapping) and load_into_page_cache (readahead, then populate).
#include "damselfly/common/page_cache.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <vector>

#include "damselfly/common/file_io.hpp"

namespace damselfly {

namespace {

std::size_t page_size() {
  static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

/// A read-only mapping of whole pages covering a byte range; unmapped on destruction.
class mapped_range {
 public:
  mapped_range(int fd, std::uint64_t offset, std::uint64_t length) {
    const std::uint64_t page = page_size();
    std::uint64_t start = offset / page * page;
    size_ = static_cast<std::size_t>((offset + length + page - 1) / page * page - start);
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(start));
    if (p != MAP_FAILED) base_ = p;
  }
  ~mapped_range() {
    if (base_) ::munmap(base_, size_);
  }
  mapped_range(const mapped_range&) = delete;
  mapped_range& operator=(const mapped_range&) = delete;
  void* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }

 private:
  void* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace

bool in_page_cache(int fd, std::uint64_t offset, std::uint64_t length) {
  if (length == 0) return true;
  mapped_range m(fd, offset, length);
  if (!m.base()) return false;
  std::vector<unsigned char> resident(m.size() / page_size());
  if (::mincore(m.base(), m.size(), resident.data()) != 0) return false;
  for (auto r : resident)
    if ((r & 1) == 0) return false;
  return true;
}

error_code load_into_page_cache(int fd, std::uint64_t offset, std::uint64_t length) {
  if (length == 0) return {};
  // Every read asked for at once (the kernel's readahead alone would wait
  // for each window in turn), then waited for by faulting the pages in.
  (void)::posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(length),
                        POSIX_FADV_WILLNEED);
#ifdef MADV_POPULATE_READ
  {
    mapped_range m(fd, offset, length);
    if (m.base() && ::madvise(m.base(), m.size(), MADV_POPULATE_READ) == 0) return {};
    // EINVAL: a kernel before 5.14; EFAULT: the file is shorter than the
    // range. Either way the reads below settle it.
  }
#endif
  std::array<std::byte, 64 * 1024> block;
  for (std::uint64_t done = 0; done < length;) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), length - done));
    if (auto ec = read_exact_at(fd, offset + done, std::span(block.data(), n))) return ec;
    done += n;
  }
  return {};
}

}  // namespace damselfly
