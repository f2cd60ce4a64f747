// SPDX-License-Identifier: Apache-2.0
// Daemon task files and their metadata.
#include "damselfly/dfget_storage/task_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "damselfly/common/file_io.hpp"
#include "damselfly/common/piece_math.hpp"
#include "damselfly/common/task_id.hpp"

namespace damselfly::dfget {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string bits_to_text(const std::vector<bool>& v) {
  std::string s;
  s.reserve(v.size());
  for (bool b : v) s.push_back(b ? '1' : '0');
  return s;
}

std::vector<bool> text_to_bits(const std::string& s) {
  std::vector<bool> v(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) v[i] = s[i] == '1';
  return v;
}

}  // namespace

task_file::task_file(fs::path dir, unique_fd fd, task_meta meta)
    : dir_(std::move(dir)),
      fd_(std::make_shared<const unique_fd>(std::move(fd))),
      meta_(std::move(meta)) {}

error_code task_file::write(std::uint64_t offset, std::span<const std::byte> data) {
  if (!write_through_.load(std::memory_order_relaxed))
    return write_all_at(fd_->get(), offset, data);
  // The file becomes the client's output: its pieces go to the disk now,
  // not in the final fsync. Past the page cache, because on a busy node the
  // copy into it costs more CPU than hashing (measured: 3.4 CPU-s per GiB
  // buffered against 0.9 direct, and the 1 GiB daemon route 3.6 s against
  // 1.3 s, docs/benchmarks.md); peers then read pieces back from the disk.
  const bool direct = direct_->takes(offset, data);
  if (auto ec = direct_->write(fd_->get(), offset, data)) return ec;
  // What went through the page cache (the unaligned last piece, a file
  // system without O_DIRECT) starts its writeback now, so the client's fsync
  // finds little left. Best effort.
  if (!direct)
    ::sync_file_range(fd_->get(), static_cast<off_t>(offset), static_cast<off_t>(data.size()),
                      SYNC_FILE_RANGE_WRITE);
  return {};
}

void task_file::write_through(bool on) {
  if (on && !direct_) {
    auto self = "/proc/self/fd/" + std::to_string(fd_->get());
    direct_ = std::make_unique<direct_writer>(
        unique_fd(::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC)));
  }
  write_through_.store(on, std::memory_order_relaxed);
}

error_code task_file::read(std::uint64_t offset, std::span<std::byte> out) {
  return read_exact_at(fd_->get(), offset, out);
}

error_code task_file::reserve(std::uint64_t length) {
  return check_room(fd_->get(), length);
}

namespace {

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

error_code task_file::share(std::optional<std::int64_t> mtime) {
  if (mtime) {
    const timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(*mtime), 0}};
    if (::futimens(fd_->get(), times) != 0) return last_system_error();
  }
  struct stat st {};
  if (::fstat(fd_->get(), &st) != 0) return last_system_error();
  // Zero means "not shared": a file stamped at the epoch itself gets 1 ns.
  update([&](task_meta& m) { m.shared_mtime_ns = std::max<std::int64_t>(1, mtime_ns(st)); });
  return {};
}

bool task_file::named_elsewhere() const {
  struct stat st {};
  return ::fstat(fd_->get(), &st) != 0 || st.st_nlink > 1;
}

bool task_file::tampered() const {
  auto m = meta();
  if (m.shared_mtime_ns == 0) return false;
  struct stat st {};
  if (::fstat(fd_->get(), &st) != 0) return true;
  return std::max<std::int64_t>(1, mtime_ns(st)) != m.shared_mtime_ns ||
         st.st_size != m.content_length;
}

error_code task_file::sync() {
  if (::fdatasync(fd_->get()) != 0) return last_system_error();
  return {};
}

void task_file::mark(std::uint64_t piece) {
  std::lock_guard lock(mu_);
  if (piece >= meta_.have.size()) meta_.have.resize(piece + 1, false);
  meta_.have[piece] = true;
  if (!journal_.is_open()) {
    auto j = piece_journal::open(dir_ / journal_name);
    if (!j) return;  // the bitmap saved every second still records it
    journal_ = std::move(*j);
  }
  (void)journal_.append(piece);
}

bool task_file::holds_range(std::uint64_t offset, std::uint64_t length) const {
  std::lock_guard lock(mu_);
  if (meta_.piece_size == 0) return false;
  if (meta_.content_length >= 0 &&
      offset + length > static_cast<std::uint64_t>(meta_.content_length))
    return false;
  if (length == 0) return true;
  for (std::uint64_t p = offset / meta_.piece_size; p <= (offset + length - 1) / meta_.piece_size;
       ++p)
    if (p >= meta_.have.size() || !meta_.have[p]) return false;
  return true;
}

task_meta task_file::meta() const {
  std::lock_guard lock(mu_);
  return meta_;
}

void task_file::update(const std::function<void(task_meta&)>& change) {
  std::lock_guard lock(mu_);
  change(meta_);
}

error_code task_file::save_meta(durability how) {
  std::lock_guard saving(save_mu_);
  auto boot = how == durability::deferred ? current_boot_id() : std::string();
  task_meta m = meta();
  // Pieces named in the bitmap (written before `m` was taken) must be on disk
  // before a bitmap that outlives this boot says so.
  if (boot.empty()) {
    if (auto ec = sync()) return ec;
  }
  json j{{"task_id", m.task_id},
         {"url", m.identity.url},
         {"filters", m.identity.filters},
         {"tag", m.identity.tag},
         {"digest", m.identity.digest},
         {"identifier", m.identity.identifier},
         {"content_length", m.content_length},
         {"piece_size", m.piece_size},
         {"version", m.version},
         {"have", bits_to_text(m.have)},
         {"complete", m.complete},
         {"last_used", m.last_used},
         {"peer_key", m.peer_key},
         {"ticket_key", m.ticket_key},
         {"last_modified", m.last_modified}};
  if (m.shared_mtime_ns != 0) j["shared_mtime_ns"] = m.shared_mtime_ns;
  if (!boot.empty()) j["unsynced_boot"] = boot;
  return replace_file(dir_ / "meta.json", j.dump(), 0600);
}

task_store::task_store(fs::path root) : root_(std::move(root)) {}

error_code task_store::init() {
  std::error_code ec;
  // Owner only: what a node holds is its business (and its users').
  if (auto failed = make_private_dir(root_, nullptr, /*follow_symlink=*/true)) return failed;
  if (auto failed = make_private_dir(root_ / "tasks")) return failed;
  if (::access((root_ / "tasks").c_str(), W_OK) != 0) return last_system_error();
  return {};
}

result<std::shared_ptr<task_file>> task_store::open(const std::string& task_id) {
  if (!is_valid_task_id(task_id)) return errc::invalid_argument;
  auto dir = root_ / "tasks" / task_id;
  std::error_code ec;
  if (make_private_dir(dir)) return errc::io_error;
  task_meta meta;
  meta.task_id = task_id;
  bool resumed = false;
  try {
    std::ifstream in(dir / "meta.json");
    if (in) {
      json j = json::parse(in);
      meta.identity.url = j.at("url").get<std::string>();
      meta.identity.filters = j.value("filters", std::vector<std::string>{});
      meta.identity.tag = j.value("tag", "");
      meta.identity.digest = j.value("digest", "");
      meta.identity.identifier = j.value("identifier", "");
      meta.content_length = j.at("content_length").get<std::int64_t>();
      meta.piece_size = j.at("piece_size").get<std::uint64_t>();
      meta.version = j.value("version", "");
      meta.have = text_to_bits(j.value("have", ""));
      meta.complete = j.value("complete", false);
      meta.last_used = j.value("last_used", std::int64_t{0});
      meta.peer_key = j.value("peer_key", "");
      meta.ticket_key = j.value("ticket_key", "");
      meta.last_modified = j.value("last_modified", "");
      meta.shared_mtime_ns = j.value("shared_mtime_ns", std::int64_t{0});
      auto unsynced = j.value("unsynced_boot", "");
      if (!unsynced.empty() && unsynced != current_boot_id()) {
        // Saved without a data sync before a reboot: nothing it names is sure.
        meta.have.clear();
        meta.complete = false;
      }
      resumed = true;
    }
  } catch (const std::exception&) {
    meta = task_meta{};
    meta.task_id = task_id;
  }
  if (resumed && meta.piece_size > 0) {
    // Pieces verified after the last saved bitmap, if the process was killed.
    for (auto piece : piece_journal::load(dir / task_file::journal_name)) {
      if (meta.content_length >= 0 &&
          piece >= piece_count(static_cast<std::uint64_t>(meta.content_length), meta.piece_size))
        continue;
      if (piece >= meta.have.size()) meta.have.resize(piece + 1, false);
      meta.have[piece] = true;
    }
  } else {
    fs::remove(dir / task_file::journal_name, ec);
  }
  // A new task gets a new file, never a truncated old one: an old data file
  // may be a client's output as well (task_file::share).
  if (!resumed) fs::remove(dir / "data", ec);
  int fd = ::open((dir / "data").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return last_system_error();
  return std::make_shared<task_file>(dir, unique_fd(fd), std::move(meta));
}

std::vector<std::string> task_store::list() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "tasks", ec)) {
    auto id = e.path().filename().string();
    if (is_valid_task_id(id) && fs::exists(e.path() / "meta.json")) out.push_back(id);
  }
  return out;
}

std::uint64_t task_store::disk_usage(const std::string& task_id) const {
  return directory_disk_usage(root_ / "tasks" / task_id);
}

std::uint64_t task_store::free_space() const {
  return filesystem_free_space(root_);
}

void task_store::remove(const std::string& task_id) {
  std::error_code ec;
  fs::remove_all(root_ / "tasks" / task_id, ec);
}

}  // namespace damselfly::dfget
