// SPDX-License-Identifier: Apache-2.0
// The supernode's on-disk piece cache: one sparse data file and one metadata file per task.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "damselfly/common/error.hpp"
#include "damselfly/common/unique_fd.hpp"

namespace damselfly::supernode {

/// What the cache remembers of a finished task, enough to serve it after a restart.
struct cached_task_meta {
  std::string task_id;
  std::string url;
  std::int64_t content_length = 0;
  std::uint64_t piece_size = 0;
  std::vector<std::string> piece_sha256;
  std::string etag;
  std::string last_modified;
  std::string version;
  std::string file_sha256;
};

/// Layout: <root>/tasks/<task_id>/{data,meta.json}, and
/// <root>/replicas/<task_id>.json for other supernodes' replicas (kept over a
/// restart, so a rolling restart does not cost the digests). meta.json is written
/// (atomically) only once a task is complete, so a task directory without it
/// is an interrupted fetch and is discarded at start-up.
class cache_store {
 public:
  explicit cache_store(std::filesystem::path root);

  /// Creates the directories; fails if the root is not writable.
  error_code init();
  /// Complete tasks found on disk; incomplete or unreadable ones are removed.
  std::vector<cached_task_meta> load_complete();
  /// Creates (truncating) the data file of a task and returns it open read-write.
  result<std::shared_ptr<const unique_fd>> create_data(const std::string& task_id);
  /// Opens an existing data file read-only.
  result<std::shared_ptr<const unique_fd>> open_data(const std::string& task_id);
  /// Writes bytes at an offset of an open data file.
  static error_code write_at(const unique_fd& fd, std::uint64_t offset,
                             std::span<const std::byte> data);
  /// Reads exactly `out.size()` bytes at an offset.
  static error_code read_at(const unique_fd& fd, std::uint64_t offset, std::span<std::byte> out);
  /// Flushes the data file and writes meta.json atomically (marks the task complete).
  error_code commit(const unique_fd& fd, const cached_task_meta& meta);
  /// commit()'s two halves, for callers that flush on another thread: the
  /// data first (the long part), then meta.json.
  static error_code sync_data(const unique_fd& fd);
  /// Writes meta.json atomically. Unless `data_synced`, it names this boot
  /// and a supernode started after a reboot discards the entry (its data may
  /// not have reached the disk); write it again once the data is synced.
  error_code write_meta(const cached_task_meta& meta, bool data_synced = true);
  /// Removes a task's files.
  void remove(const std::string& task_id);
  /// Keeps a replica's text (replacing any earlier one); `task_id` must be a valid id.
  error_code save_replica(const std::string& task_id, std::string_view text);
  void remove_replica(const std::string& task_id);
  /// The texts of the replicas kept, oldest first; files over 2 MiB are skipped.
  std::vector<std::string> load_replicas() const;
  /// Bytes a task's files occupy on disk.
  std::uint64_t disk_usage(const std::string& task_id) const;
  /// Bytes free on the cache's filesystem.
  std::uint64_t free_space() const;

  const std::filesystem::path& root() const noexcept { return root_; }

 private:
  std::filesystem::path task_dir(const std::string& task_id) const;
  std::filesystem::path root_;
};

}  // namespace damselfly::supernode
