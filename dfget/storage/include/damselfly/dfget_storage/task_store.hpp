// SPDX-License-Identifier: Apache-2.0
// A daemon's pieces on disk: one sparse data file and a metadata file (with the bitmap) per task.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "damselfly/common/direct_writer.hpp"
#include "damselfly/common/error.hpp"
#include "damselfly/common/task_id.hpp"
#include "damselfly/common/unique_fd.hpp"
#include "damselfly/dfget_storage/piece_journal.hpp"
#include "damselfly/dfget_storage/piece_store.hpp"

namespace damselfly::dfget {

/// What a daemon remembers of a task: enough to resume it and to serve it.
struct task_meta {
  std::string task_id;
  task_identity identity;  ///< what the task was asked for as (announced again after a restart)
  std::int64_t content_length = -1;
  std::uint64_t piece_size = 0;
  std::string version;
  std::vector<bool> have;  ///< verified pieces
  bool complete = false;
  std::int64_t last_used = 0;  ///< unix seconds of the last download or upload (LRU eviction)
  /// This node's key as the task's peer at the supernode (heartbeats and
  /// registering again need it); the files are owner-only.
  std::string peer_key;
  /// The supernode's public key for this task's piece tickets: a peer asking
  /// for pieces must show a ticket it checks. Empty: not registered, not served.
  std::string ticket_key;
  std::string last_modified;  ///< the origin's Last-Modified, given to the files written
  /// Non-zero: the data file is also a client's output (a hard link the
  /// client made), and this was its modification time (ns) when handed over.
  std::int64_t shared_mtime_ns = 0;
};

/// One task's data file. Written by the download engine (from several threads)
/// and read by uploads (sendfile on fd()); the bitmap is guarded by a lock.
class task_file final : public piece_store {
 public:
  task_file(std::filesystem::path dir, unique_fd fd, task_meta meta);

  error_code write(std::uint64_t offset, std::span<const std::byte> data) override;
  error_code read(std::uint64_t offset, std::span<std::byte> out) override;
  error_code sync() override;
  error_code reserve(std::uint64_t length) override;

  /// Records a verified piece in the bitmap and appends it to the task's piece
  /// journal, so a killed process keeps it; the bitmap itself reaches disk
  /// (fsynced with the data) at the next save_meta().
  void mark(std::uint64_t piece);
  /// True when every piece touching [offset, offset+length) is held.
  bool holds_range(std::uint64_t offset, std::uint64_t length) const;
  /// How a save_meta() treats the data the bitmap names.
  enum class durability {
    synced,    ///< fdatasync the data first: the bitmap holds across a power loss
    deferred,  ///< no data sync: the bitmap names this boot and counts only within it
  };
  /// Writes meta.json atomically (temp file + rename). A deferred save costs
  /// no disk flush (the kernel writes the data back in its own time); after a
  /// reboot its bitmap is void, so a crash costs a download, never a piece
  /// that is not on disk.
  error_code save_meta(durability how = durability::synced);
  task_meta meta() const;
  /// Before the complete data file becomes a client's output too (a hard
  /// link, no copy): stamps it with `mtime` (seconds since the epoch) when
  /// given, as the client would its output, and records the stamp. The
  /// client's name reaches the same bytes, so from now on tampered() says
  /// whether they were written since.
  error_code share(std::optional<std::int64_t> mtime);
  /// Whether this download's pieces go to the disk as they are written, for
  /// a file that becomes the client's output (fsynced when done): aligned
  /// pieces past the page cache (O_DIRECT), the rest with writeback started
  /// at once. Otherwise writes are buffered and written back in the
  /// kernel's time. Called before the download's first write (the task's
  /// download lease keeps downloads of one task from overlapping).
  void write_through(bool on);
  /// Whether the data file has another name than the cache's (a client's
  /// output it was shared with, still there).
  bool named_elsewhere() const;
  /// True when the data file was shared and its size or modification time
  /// moved since: someone wrote it through the other name, and it is
  /// neither served nor handed out again.
  bool tampered() const;
  void update(const std::function<void(task_meta&)>& change);
  std::shared_ptr<const unique_fd> fd() const { return fd_; }
  const std::filesystem::path& dir() const noexcept { return dir_; }
  static constexpr const char* journal_name = "pieces.journal";

 private:
  std::filesystem::path dir_;
  std::shared_ptr<const unique_fd> fd_;
  mutable std::mutex mu_;
  std::mutex save_mu_;  ///< one meta.json writer at a time
  task_meta meta_;
  piece_journal journal_;  ///< opened at the first mark()
  std::atomic<bool> write_through_{false};
  std::unique_ptr<direct_writer> direct_;  ///< opened at the first write_through(true)
};

/// Layout: <root>/tasks/<task_id>/{data,meta.json,pieces.journal}.
class task_store {
 public:
  explicit task_store(std::filesystem::path root);
  /// Creates the directories; fails if the root is not writable.
  error_code init();
  /// Opens a task's files, creating them if new; an unreadable meta.json starts over.
  result<std::shared_ptr<task_file>> open(const std::string& task_id);
  /// Task ids with data on disk.
  std::vector<std::string> list() const;
  /// Bytes the task's files occupy on disk.
  std::uint64_t disk_usage(const std::string& task_id) const;
  /// Bytes available to unprivileged writers on the store's filesystem.
  std::uint64_t free_space() const;
  void remove(const std::string& task_id);

 private:
  std::filesystem::path root_;
};

}  // namespace damselfly::dfget
