// SPDX-License-Identifier: Apache-2.0
// The supernode cache on disk and the dfget output file: durability and no partial outputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "damselfly/common/digest.hpp"
#include "damselfly/dfget_storage/output_file.hpp"
#include "damselfly/supernode_storage/cache_store.hpp"
#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/temp_dir.hpp"

using namespace damselfly;
namespace fs = std::filesystem;

namespace {

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

supernode::cached_task_meta meta_for(const std::string& id, std::int64_t length) {
  supernode::cached_task_meta m;
  m.task_id = id;
  m.url = "http://o/f";
  m.content_length = length;
  m.piece_size = 4;
  m.piece_sha256 = {"a", "b"};
  m.version = "v";
  m.file_sha256 = "f";
  return m;
}

}  // namespace

TEST(CacheStore, CommittedTasksSurviveARestart) {
  test::temp_dir d;
  const std::string id(64, 'a');
  {
    supernode::cache_store c(d.path());
    ASSERT_FALSE(c.init());
    auto fd = c.create_data(id);
    ASSERT_TRUE(fd);
    ASSERT_FALSE(supernode::cache_store::write_at(**fd, 4, bytes("5678")));
    ASSERT_FALSE(supernode::cache_store::write_at(**fd, 0, bytes("1234")));
    ASSERT_FALSE(c.commit(**fd, meta_for(id, 8)));
  }
  supernode::cache_store again(d.path());
  ASSERT_FALSE(again.init());
  auto loaded = again.load_complete();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].task_id, id);
  EXPECT_EQ(loaded[0].piece_sha256, (std::vector<std::string>{"a", "b"}));
  auto fd = again.open_data(id);
  ASSERT_TRUE(fd);
  std::string back(8, '\0');
  ASSERT_FALSE(
      supernode::cache_store::read_at(**fd, 0, std::as_writable_bytes(std::span(back.data(), 8))));
  EXPECT_EQ(back, "12345678");
}

TEST(CacheStore, IncompleteAndInconsistentTasksAreDiscarded) {
  test::temp_dir d;
  supernode::cache_store c(d.path());
  ASSERT_FALSE(c.init());
  const std::string partial(64, 'b'), wrong_size(64, 'c');
  ASSERT_TRUE(c.create_data(partial));  // never committed: a fetch that was interrupted
  auto fd = c.create_data(wrong_size);
  ASSERT_FALSE(supernode::cache_store::write_at(**fd, 0, bytes("12")));
  ASSERT_FALSE(c.commit(**fd, meta_for(wrong_size, 8)));  // says 8 bytes, has 2
  fs::create_directories(d.path() / "tasks" / "not-a-task-id");
  EXPECT_TRUE(c.load_complete().empty());
  EXPECT_FALSE(fs::exists(d.path() / "tasks" / partial));
  EXPECT_FALSE(fs::exists(d.path() / "tasks" / wrong_size));
  EXPECT_TRUE(fs::exists(d.path() / "tasks" / "not-a-task-id"));  // not ours to delete
}

TEST(CacheStore, UnwritableRootIsReported) {
  supernode::cache_store c("/proc/damselfly-cannot-exist");
  EXPECT_TRUE(c.init());
}

TEST(OutputFile, NothingAtTheFinalPathUntilCommit) {
  test::temp_dir d;
  auto final_path = d / "out.bin";
  auto out = dfget::output_file::create(final_path);
  ASSERT_TRUE(out);
  ASSERT_FALSE((*out)->write(3, bytes("def")));
  ASSERT_FALSE((*out)->write(0, bytes("abc")));
  EXPECT_FALSE(fs::exists(final_path));
  EXPECT_EQ(fs::path((*out)->temp_path()).parent_path(), d.path());
  ASSERT_FALSE((*out)->commit(6));
  EXPECT_EQ(test::read_text(final_path), "abcdef");
  out->reset();
  EXPECT_EQ(std::distance(fs::directory_iterator(d.path()), fs::directory_iterator()), 1);
}

TEST(OutputFile, AbandonedDownloadLeavesNoTrace) {
  test::temp_dir d;
  std::ofstream(d / "existing") << "old content";
  {
    auto out = dfget::output_file::create(d / "existing");
    ASSERT_TRUE(out);
    ASSERT_FALSE((*out)->write(0, bytes("partial")));
  }
  EXPECT_EQ(test::read_text(d / "existing"), "old content");
  EXPECT_EQ(std::distance(fs::directory_iterator(d.path()), fs::directory_iterator()), 1);
}

TEST(OutputFile, CommitTruncatesToTheContentLengthAndReadsBack) {
  test::temp_dir d;
  auto out = dfget::output_file::create(d / "f");
  ASSERT_TRUE(out);
  ASSERT_FALSE((*out)->write(0, bytes("0123456789")));
  std::string back(4, '\0');
  ASSERT_FALSE((*out)->read(2, std::as_writable_bytes(std::span(back.data(), 4))));
  EXPECT_EQ(back, "2345");
  ASSERT_FALSE((*out)->commit(0));  // an empty download is an empty file
  EXPECT_EQ(fs::file_size(d / "f"), 0u);
}

TEST(OutputFile, MissingDirectoryFails) {
  test::temp_dir d;
  EXPECT_FALSE(dfget::output_file::create(d / "no" / "such" / "dir" / "f"));
}
