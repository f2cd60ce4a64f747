// SPDX-License-Identifier: Apache-2.0
// Supernode piece cache on disk.
#include "damselfly/supernode_storage/cache_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "damselfly/common/file_io.hpp"
#include "damselfly/common/task_id.hpp"

namespace damselfly::supernode {

namespace fs = std::filesystem;
using nlohmann::json;

cache_store::cache_store(fs::path root) : root_(std::move(root)) {}

fs::path cache_store::task_dir(const std::string& task_id) const {
  return root_ / "tasks" / task_id;
}

error_code cache_store::init() {
  // Owner only: private tasks' content is cached here too.
  // The data dir may be systemd's StateDirectory= link (DynamicUser=yes).
  if (auto failed = make_private_dir(root_, nullptr, /*follow_symlink=*/true)) return failed;
  if (auto failed = make_private_dir(root_ / "tasks")) return failed;
  if (auto failed = make_private_dir(root_ / "replicas")) return failed;
  std::error_code ec;
  auto probe = root_ / ".write-test";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return last_system_error();
  ::close(fd);
  fs::remove(probe, ec);
  return {};
}

std::vector<cached_task_meta> cache_store::load_complete() {
  std::vector<cached_task_meta> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ / "tasks", ec)) {
    const auto id = entry.path().filename().string();
    auto meta_path = entry.path() / "meta.json";
    auto discard = [&](const char* why) {
      spdlog::info("cache: discarding task {} ({})", id, why);
      std::error_code rm;
      fs::remove_all(entry.path(), rm);
    };
    if (!is_valid_task_id(id)) continue;  // not ours; leave it alone
    if (!fs::exists(meta_path)) {
      discard("incomplete fetch");
      continue;
    }
    try {
      std::ifstream in(meta_path);
      json j = json::parse(in);
      cached_task_meta m;
      m.task_id = j.at("task_id").get<std::string>();
      m.url = j.at("url").get<std::string>();
      m.content_length = j.at("content_length").get<std::int64_t>();
      m.piece_size = j.at("piece_size").get<std::uint64_t>();
      m.piece_sha256 = j.at("piece_sha256").get<std::vector<std::string>>();
      m.etag = j.value("etag", "");
      m.last_modified = j.value("last_modified", "");
      m.version = j.at("version").get<std::string>();
      m.file_sha256 = j.at("file_sha256").get<std::string>();
      auto unsynced = j.value("unsynced_boot", "");
      if (!unsynced.empty() && unsynced != current_boot_id()) {
        discard("written without a flush before a reboot");
        continue;
      }
      auto size = fs::file_size(entry.path() / "data");
      if (m.task_id != id || static_cast<std::int64_t>(size) != m.content_length) {
        discard("data does not match metadata");
        continue;
      }
      out.push_back(std::move(m));
    } catch (const std::exception&) {
      discard("unreadable metadata");
    }
  }
  return out;
}

result<std::shared_ptr<const unique_fd>> cache_store::create_data(const std::string& task_id) {
  std::error_code ec;
  auto dir = task_dir(task_id);
  fs::remove(dir / "meta.json", ec);
  if (make_private_dir(dir)) return errc::io_error;
  int fd = ::open((dir / "data").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return last_system_error();
  return std::make_shared<const unique_fd>(fd);
}

result<std::shared_ptr<const unique_fd>> cache_store::open_data(const std::string& task_id) {
  int fd = ::open((task_dir(task_id) / "data").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return last_system_error();
  return std::make_shared<const unique_fd>(fd);
}

error_code cache_store::write_at(const unique_fd& fd, std::uint64_t offset,
                                 std::span<const std::byte> data) {
  return write_all_at(fd.get(), offset, data);
}

error_code cache_store::read_at(const unique_fd& fd, std::uint64_t offset,
                                std::span<std::byte> out) {
  return read_exact_at(fd.get(), offset, out);
}

error_code cache_store::commit(const unique_fd& fd, const cached_task_meta& m) {
  if (auto ec = sync_data(fd)) return ec;
  return write_meta(m);
}

error_code cache_store::sync_data(const unique_fd& fd) {
  if (::fdatasync(fd.get()) != 0) return last_system_error();
  return {};
}

error_code cache_store::write_meta(const cached_task_meta& m, bool data_synced) {
  json j{{"task_id", m.task_id},
         {"url", m.url},
         {"content_length", m.content_length},
         {"piece_size", m.piece_size},
         {"piece_sha256", m.piece_sha256},
         {"etag", m.etag},
         {"last_modified", m.last_modified},
         {"version", m.version},
         {"file_sha256", m.file_sha256}};
  if (!data_synced) j["unsynced_boot"] = current_boot_id();
  return replace_file(task_dir(m.task_id) / "meta.json", j.dump(), 0600);
}

std::uint64_t cache_store::disk_usage(const std::string& task_id) const {
  return directory_disk_usage(task_dir(task_id));
}

std::uint64_t cache_store::free_space() const {
  return filesystem_free_space(root_);
}

void cache_store::remove(const std::string& task_id) {
  std::error_code ec;
  fs::remove_all(task_dir(task_id), ec);
}

error_code cache_store::save_replica(const std::string& task_id, std::string_view text) {
  return replace_file(root_ / "replicas" / (task_id + ".json"), text, 0600);
}

void cache_store::remove_replica(const std::string& task_id) {
  std::error_code ec;
  fs::remove(root_ / "replicas" / (task_id + ".json"), ec);
}

std::vector<std::string> cache_store::load_replicas() const {
  std::vector<std::pair<fs::file_time_type, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ / "replicas", ec)) {
    std::error_code fec;
    if (!entry.is_regular_file(fec) || entry.path().extension() != ".json") continue;
    if (entry.file_size(fec) > (2u << 20) || fec) continue;
    found.emplace_back(entry.last_write_time(fec), entry.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (const auto& [when, path] : found) {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.good() || in.eof()) out.push_back(std::move(text));
  }
  return out;
}

}  // namespace damselfly::supernode
