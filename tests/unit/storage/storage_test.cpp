// SPDX-License-Identifier: Apache-2.0
// The supernode cache on disk and the dfget output file: durability and no partial outputs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "damselfly/common/aligned_buffer.hpp"
#include "damselfly/common/digest.hpp"
#include "damselfly/common/file_io.hpp"
#include "damselfly/common/page_cache.hpp"
#include "damselfly/dfget_storage/handed_output.hpp"
#include "damselfly/dfget_storage/output_file.hpp"
#include "damselfly/dfget_storage/piece_journal.hpp"
#include "damselfly/dfget_storage/resume_record.hpp"
#include "damselfly/dfget_storage/task_store.hpp"
#include "damselfly/dfget_storage/tee_store.hpp"
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

namespace {

/// Rewrites meta.json's boot id as if it had been written in another boot.
void pretend_other_boot(const fs::path& meta_json) {
  std::ifstream in(meta_json);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto at = text.find(current_boot_id());
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, current_boot_id().size(), "00000000-0000-0000-0000-000000000000");
  std::ofstream(meta_json, std::ios::trunc) << text;
}

}  // namespace

TEST(TaskStore, ADeferredSaveCountsWithinItsBootAndIsVoidAfterAReboot) {
  if (current_boot_id().empty()) GTEST_SKIP() << "no boot id on this system";
  test::temp_dir d;
  dfget::task_store store(d.path());
  ASSERT_FALSE(store.init());
  const std::string id(64, 'e');
  {
    auto tf = store.open(id);
    ASSERT_TRUE(tf);
    (*tf)->update([](dfget::task_meta& m) {
      m.identity.url = "http://o/f";
      m.content_length = 8;
      m.piece_size = 4;
      m.version = "v1";
      m.complete = true;
    });
    (*tf)->mark(0);
    (*tf)->mark(1);
    ASSERT_FALSE((*tf)->save_meta(dfget::task_file::durability::deferred));
  }
  {
    // The daemon was killed, the machine kept running: the page cache holds the data.
    auto tf = store.open(id);
    ASSERT_TRUE(tf);
    EXPECT_EQ((*tf)->meta().have, (std::vector<bool>{true, true}));
    EXPECT_TRUE((*tf)->meta().complete);
  }
  pretend_other_boot(d.path() / "tasks" / id / "meta.json");
  pretend_other_boot(d.path() / "tasks" / id / dfget::task_file::journal_name);
  auto tf = store.open(id);
  ASSERT_TRUE(tf);
  EXPECT_TRUE((*tf)->meta().have.empty()) << "pieces never flushed were trusted after a reboot";
  EXPECT_FALSE((*tf)->meta().complete);
  // A synced save carries no boot id: it holds across reboots.
  (*tf)->update([](dfget::task_meta& m) { m.have = {true, true}; });
  ASSERT_FALSE((*tf)->save_meta(dfget::task_file::durability::synced));
  std::ifstream in(d.path() / "tasks" / id / "meta.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("unsynced_boot"), std::string::npos);
}

TEST(CacheStore, AnEntryWrittenBeforeItsDataWasFlushedIsDiscardedAfterAReboot) {
  if (current_boot_id().empty()) GTEST_SKIP() << "no boot id on this system";
  test::temp_dir d;
  const std::string same_boot(64, 'b'), other_boot(64, 'c');
  {
    supernode::cache_store c(d.path());
    ASSERT_FALSE(c.init());
    for (const auto& id : {same_boot, other_boot}) {
      auto fd = c.create_data(id);
      ASSERT_TRUE(fd);
      ASSERT_FALSE(supernode::cache_store::write_at(**fd, 0, bytes("12345678")));
      ASSERT_FALSE(c.write_meta(meta_for(id, 8), /*data_synced=*/false));
    }
  }
  pretend_other_boot(d.path() / "tasks" / other_boot / "meta.json");
  supernode::cache_store again(d.path());
  ASSERT_FALSE(again.init());
  auto loaded = again.load_complete();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].task_id, same_boot);
  EXPECT_FALSE(fs::exists(d.path() / "tasks" / other_boot));
}

TEST(TeeStore, TheOutputGetsEveryWriteAndTheGapsFromTheCache) {
  test::temp_dir d;
  dfget::task_store store(d.path());
  ASSERT_FALSE(store.init());
  auto tf = store.open(std::string(64, 'f'));
  ASSERT_TRUE(tf);
  // The cache holds "AAAA" at 0 from an earlier run; this run writes the rest.
  ASSERT_FALSE((*tf)->write(0, bytes("AAAA")));
  unique_fd out_fd(::open(d.path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  ASSERT_TRUE(out_fd);
  std::string why;
  auto out = dfget::handed_output::adopt(std::move(out_fd), &why);
  ASSERT_TRUE(out) << why;
  dfget::tee_store tee(**tf, **out);
  ASSERT_FALSE(tee.write(8, bytes("CCCC")));
  ASSERT_FALSE(tee.write(4, bytes("BBBB")));
  ASSERT_FALSE(tee.write(14, bytes("EE")));
  EXPECT_EQ(tee.written(), 10u);
  ASSERT_FALSE((*tf)->write(12, bytes("DD")));  // also held before
  ASSERT_FALSE(tee.fill_gaps((*tf)->fd()->get(), 16));
  std::string back(16, '\0');
  ASSERT_FALSE((*out)->read(0, std::as_writable_bytes(std::span(back.data(), back.size()))));
  EXPECT_EQ(back, "AAAABBBBCCCCDDEE");
}

TEST(TaskStore, ASharedFileIsStampedAndAWriteThroughTheOtherNameIsSeen) {
  test::temp_dir d;
  dfget::task_store store(d.path());
  ASSERT_FALSE(store.init());
  const std::string id(64, 'a');
  auto tf = store.open(id);
  ASSERT_TRUE(tf);
  ASSERT_FALSE((*tf)->write(0, bytes("0123456789")));
  (*tf)->update([](dfget::task_meta& m) {
    m.identity.url = "http://o/f";
    m.content_length = 10;
    m.piece_size = 4;
    m.complete = true;
  });
  EXPECT_FALSE((*tf)->tampered());  // never shared: nothing to compare
  ASSERT_FALSE((*tf)->share(1'700'000'000));
  struct stat st {};
  ASSERT_EQ(::fstat((*tf)->fd()->get(), &st), 0);
  EXPECT_EQ(st.st_mtime, 1'700'000'000);
  EXPECT_FALSE((*tf)->tampered());
  ASSERT_FALSE((*tf)->save_meta());
  // The stamp outlives the process.
  auto again = store.open(id);
  ASSERT_TRUE(again);
  EXPECT_NE((*again)->meta().shared_mtime_ns, 0);
  EXPECT_FALSE((*again)->tampered());
  // The client's name for the file is another way in.
  auto output = d.path() / "output";
  ASSERT_EQ(::link(((*tf)->dir() / "data").c_str(), output.c_str()), 0);
  {
    std::ofstream edit(output, std::ios::in | std::ios::out | std::ios::binary);
    edit.seekp(3);
    edit.put('X');
  }
  EXPECT_TRUE((*again)->tampered());
  // A longer file is as changed as a rewritten one (same mtime forced back).
  ASSERT_EQ(::truncate(output.c_str(), 12), 0);
  const timespec back[2] = {{0, UTIME_OMIT}, {1'700'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, output.c_str(), back, 0), 0);
  EXPECT_TRUE((*again)->tampered());
}

TEST(TaskStore, ANewTaskNeverTruncatesAnOldDataFileThatIsAlsoAnOutput) {
  test::temp_dir d;
  dfget::task_store store(d.path());
  ASSERT_FALSE(store.init());
  const std::string id(64, 'b');
  auto output = d.path() / "output";
  {
    auto tf = store.open(id);
    ASSERT_TRUE(tf);
    ASSERT_FALSE((*tf)->write(0, bytes("keep me")));
    ASSERT_EQ(::link(((*tf)->dir() / "data").c_str(), output.c_str()), 0);
    // No meta.json: to the next open() this is a new task.
  }
  auto tf = store.open(id);
  ASSERT_TRUE(tf);
  ASSERT_FALSE((*tf)->write(0, bytes("new")));
  EXPECT_EQ(test::read_text(output), "keep me");
}

TEST(OutputFile, TakesASharedFileByLinkAndKeepsItsStamp) {
  test::temp_dir d;
  auto cached = d.path() / "cached";
  { std::ofstream(cached) << "shared bytes"; }
  const timespec stamp[2] = {{0, UTIME_OMIT}, {1'600'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, cached.c_str(), stamp, 0), 0);
  unique_fd ro(::open(cached.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(ro);
  auto out = dfget::output_file::create(d.path() / "final");
  ASSERT_TRUE(out);
  ASSERT_FALSE((*out)->take_shared(ro.get(), 12));
  EXPECT_TRUE((*out)->shared());
  ASSERT_FALSE((*out)->commit(12, std::nullopt, 1'600'000'000));
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(cached.c_str(), &a), 0);
  ASSERT_EQ(::stat((d.path() / "final").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(b.st_nlink, 2u);
  // Published without being cut or stamped anew: the cache's stamp holds.
  EXPECT_EQ(b.st_mtim.tv_sec, 1'600'000'000);
  EXPECT_EQ(b.st_mtim.tv_nsec, 0);
  EXPECT_EQ(b.st_mode & (S_IWGRP | S_IWOTH), 0u);
  EXPECT_EQ(test::read_text(d.path() / "final"), "shared bytes");
}

TEST(OutputFile, ASharedFileItCannotLinkIsCopied) {
  test::temp_dir d;
  // A file on another file system (an unnamed one in /dev/shm) cannot be linked here.
  unique_fd other(::memfd_create("cached", MFD_CLOEXEC));
  ASSERT_TRUE(other);
  ASSERT_EQ(::write(other.get(), "copied bytes", 12), 12);
  auto out = dfget::output_file::create(d.path() / "final");
  ASSERT_TRUE(out);
  ASSERT_FALSE((*out)->take_shared(other.get(), 12));
  EXPECT_FALSE((*out)->shared());
  ASSERT_FALSE((*out)->commit(12));
  EXPECT_EQ(test::read_text(d.path() / "final"), "copied bytes");
}

TEST(TaskStore, AFileThatBecomesTheOutputIsWrittenPastThePageCacheAndReadsBackWhole) {
  test::temp_dir d;
  {
    // Where the file system refuses O_DIRECT (tmpfs) every write is
    // buffered, and only the read-back below applies.
    unique_fd probe(::open((d / "probe").c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600));
    if (!probe) GTEST_SKIP() << "no O_DIRECT on this file system";
  }
  dfget::task_store store(d.path());
  ASSERT_FALSE(store.init());
  auto tf = store.open(std::string(64, 'c'));
  ASSERT_TRUE(tf);
  constexpr std::size_t piece = 64 * 1024;
  std::string expected(3 * piece + 1000, '\0');
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<char>(i * 31 >> 5);
  (*tf)->write_through(true);
  // Out of order, the short last piece first (it cannot go direct).
  ASSERT_FALSE((*tf)->write(3 * piece, bytes(expected.substr(3 * piece))));
  aligned_buffer buf;
  for (std::size_t p : {2u, 0u, 1u}) {
    auto dst = buf.prepare(piece);
    std::memcpy(dst.data(), expected.data() + p * piece, piece);
    ASSERT_FALSE((*tf)->write(p * piece, buf.view()));
  }
  int fd = (*tf)->fd()->get();
  // The aligned pieces went to the disk, not into memory.
  EXPECT_FALSE(in_page_cache(fd, 0, piece));
  EXPECT_FALSE(in_page_cache(fd, piece, 2 * piece));
  std::string back(expected.size(), '\0');
  ASSERT_FALSE((*tf)->read(0, std::as_writable_bytes(std::span(back.data(), back.size()))));
  EXPECT_TRUE(back == expected);
  // Not the client's output: buffered, kept in memory for peers.
  (*tf)->write_through(false);
  auto dst = buf.prepare(piece);
  std::memset(dst.data(), 'z', piece);
  ASSERT_FALSE((*tf)->write(4 * piece, buf.view()));
  EXPECT_TRUE(in_page_cache(fd, 4 * piece, piece));
}
