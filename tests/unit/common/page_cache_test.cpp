// SPDX-License-Identifier: Apache-2.0
// in_page_cache and load_into_page_cache on a real file: evicted, read in, and past the end.
#include "damselfly/common/page_cache.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "damselfly/common/file_io.hpp"
#include "damselfly/common/unique_fd.hpp"
#include "damselfly/test_support/temp_dir.hpp"

using namespace damselfly;

namespace {

constexpr std::uint64_t mib = 1 << 20;

/// A file of `size` bytes, on the disk and out of memory where the file system allows.
unique_fd file_on_disk(const test::temp_dir& d, std::uint64_t size) {
  unique_fd fd(::open((d / "f").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  std::string data(static_cast<std::size_t>(size), 'x');
  EXPECT_FALSE(write_all_at(fd.get(), 0, std::as_bytes(std::span(data.data(), data.size()))));
  EXPECT_EQ(::fsync(fd.get()), 0);
  EXPECT_EQ(::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED), 0);
  return fd;
}

}  // namespace

TEST(PageCache, ARangeOnTheDiskIsReadInAndThenInMemory) {
  test::temp_dir d;
  auto fd = file_on_disk(d, 4 * mib);
  if (in_page_cache(fd.get(), 0, 4 * mib))
    GTEST_SKIP() << "this file system keeps every page in memory (tmpfs?)";
  EXPECT_FALSE(in_page_cache(fd.get(), mib, mib / 2));
  ASSERT_FALSE(load_into_page_cache(fd.get(), mib, mib / 2));
  EXPECT_TRUE(in_page_cache(fd.get(), mib, mib / 2));
  ASSERT_FALSE(load_into_page_cache(fd.get(), 0, 4 * mib));
  EXPECT_TRUE(in_page_cache(fd.get(), 0, 4 * mib));
  // Ranges that do not start on a page are covered whole.
  EXPECT_TRUE(in_page_cache(fd.get(), 4097, 3 * mib + 5));
}

TEST(PageCache, ARangePastTheEndIsAnErrorNotACrash) {
  test::temp_dir d;
  auto fd = file_on_disk(d, 10'000);
  // The mapping covers pages the file does not have: no SIGBUS, an error.
  EXPECT_EQ(load_into_page_cache(fd.get(), 0, mib), errc::io_error);
  EXPECT_FALSE(in_page_cache(fd.get(), 0, mib));
  EXPECT_FALSE(load_into_page_cache(fd.get(), 0, 10'000));
  EXPECT_TRUE(in_page_cache(fd.get(), 0, 10'000));
  EXPECT_TRUE(in_page_cache(fd.get(), 5, 0));
  EXPECT_FALSE(in_page_cache(-1, 0, 10));
}
