// SPDX-License-Identifier: Apache-2.0
// The supernode cache on disk and the dfget output file: durability and no partial outputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "damselfly/common/digest.hpp"
#include "damselfly/dfget_storage/output_file.hpp"
#include "damselfly/dfget_storage/piece_journal.hpp"
#include "damselfly/dfget_storage/resume_record.hpp"
#include "damselfly/dfget_storage/task_store.hpp"
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

TEST(OutputFile, ALengthBeyondTheDisksFreeSpaceIsRefusedUpFront) {
  test::temp_dir d;
  auto out = dfget::output_file::create(d / "out.bin");
  ASSERT_TRUE(out);
  EXPECT_FALSE((*out)->reserve(1 << 20));
  auto huge = (*out)->reserve(std::uint64_t{1} << 60);
  EXPECT_EQ(huge, std::errc::no_space_on_device) << huge.message();
}

TEST(OutputFile, MissingDirectoryFails) {
  test::temp_dir d;
  EXPECT_FALSE(dfget::output_file::create(d / "no" / "such" / "dir" / "f"));
}

TEST(PieceJournal, RecordsPiecesAndIgnoresACutLineAndOtherBoots) {
  test::temp_dir d;
  auto path = d / "j";
  {
    auto j = dfget::piece_journal::open(path);
    ASSERT_TRUE(j);
    ASSERT_FALSE(j->append(3));
    ASSERT_FALSE(j->append(0));
  }
  {
    // Re-opened in the same boot: appends continue after what is there.
    auto j = dfget::piece_journal::open(path);
    ASSERT_TRUE(j);
    ASSERT_FALSE(j->append(7));
  }
  std::ofstream(path, std::ios::app) << "12";  // a line cut short by a kill
  EXPECT_EQ(dfget::piece_journal::load(path), (std::vector<std::uint64_t>{3, 0, 7}));
  // Written in another boot: a power loss may have lost the pieces it names.
  std::ofstream(path) << "boot 00000000-0000-0000-0000-000000000000\n1\n2\n";
  EXPECT_TRUE(dfget::piece_journal::load(path).empty());
  auto j = dfget::piece_journal::open(path);  // starts afresh for this boot
  ASSERT_TRUE(j);
  ASSERT_FALSE(j->append(5));
  EXPECT_EQ(dfget::piece_journal::load(path), (std::vector<std::uint64_t>{5}));
  EXPECT_TRUE(dfget::piece_journal::load(d / "missing").empty());
}

TEST(TaskStore, PiecesMarkedAfterTheLastSavedBitmapSurviveAKill) {
  test::temp_dir d;
  dfget::task_store store(d.path());
  ASSERT_FALSE(store.init());
  const std::string id(64, 'c');
  {
    auto tf = store.open(id);
    ASSERT_TRUE(tf);
    (*tf)->update([](dfget::task_meta& m) {
      m.identity.url = "http://o/f";
      m.content_length = 10;
      m.piece_size = 4;
      m.version = "v1";
    });
    (*tf)->mark(0);
    ASSERT_FALSE((*tf)->save_meta());
    (*tf)->mark(2);  // never saved in meta.json: the process "dies" here
  }
  auto tf = store.open(id);
  ASSERT_TRUE(tf);
  EXPECT_EQ((*tf)->meta().have, (std::vector<bool>{true, false, true}));
  EXPECT_EQ((*tf)->meta().version, "v1");
}

TEST(TaskStore, AJournalWithoutASavedLayoutIsDiscarded) {
  test::temp_dir d;
  dfget::task_store store(d.path());
  ASSERT_FALSE(store.init());
  const std::string id(64, 'd');
  {
    auto tf = store.open(id);
    ASSERT_TRUE(tf);
    (*tf)->mark(1);  // before any meta.json: the pieces' layout is unknown
  }
  auto tf = store.open(id);
  ASSERT_TRUE(tf);
  EXPECT_TRUE((*tf)->meta().have.empty());
  EXPECT_FALSE(fs::exists((*tf)->dir() / dfget::task_file::journal_name));
}

TEST(ResumeRecord, KeepsTheLayoutAndTheVerifiedPiecesUntilRemoved) {
  test::temp_dir d;
  auto part = d / ".f.dfget.part";
  {
    dfget::resume_record r(part);
    EXPECT_FALSE(r.load());
    ASSERT_FALSE(r.start({"task", "v1", 4, 10, {}}));
    ASSERT_FALSE(r.mark(1));
  }
  {
    dfget::resume_record r(part);
    auto st = r.load();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->task_id, "task");
    EXPECT_EQ(st->version, "v1");
    EXPECT_EQ(st->piece_size, 4u);
    EXPECT_EQ(st->have, (std::vector<bool>{false, true, false}));
    ASSERT_FALSE(r.mark(2));  // resuming: appends to the same journal
  }
  dfget::resume_record r(part);
  auto st = r.load();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->have, (std::vector<bool>{false, true, true}));
  // A new layout forgets the old pieces.
  ASSERT_FALSE(r.start({"task", "v2", 4, 10, {}}));
  EXPECT_EQ(r.load()->have, (std::vector<bool>{false, false, false}));
  r.remove();
  EXPECT_FALSE(r.load());
  EXPECT_TRUE(fs::is_empty(d.path()));
}

TEST(OutputFile, ResumableTemporaryIsKeptOnRequestAndLockedWhileOpen) {
  test::temp_dir d;
  {
    auto out = dfget::output_file::open_resumable(d / "f");
    ASSERT_TRUE(out);
    EXPECT_EQ((*out)->temp_path(), d / ".f.dfget.part");
    ASSERT_FALSE((*out)->write(0, bytes("abcd")));
    auto second = dfget::output_file::open_resumable(d / "f");
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error(), errc::busy);
    (*out)->keep();
  }
  auto again = dfget::output_file::open_resumable(d / "f");
  ASSERT_TRUE(again);
  ASSERT_FALSE((*again)->write(4, bytes("ef")));
  ASSERT_FALSE((*again)->commit(6));
  EXPECT_EQ(test::read_text(d / "f"), "abcdef");
  EXPECT_FALSE(fs::exists(d / ".f.dfget.part"));
}
