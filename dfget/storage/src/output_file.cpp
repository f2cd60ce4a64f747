// SPDX-License-Identifier: Apache-2.0
// Temp-file-and-rename publishing of downloads.
#include "damselfly/dfget_storage/output_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "damselfly/common/file_io.hpp"

namespace damselfly::dfget {

namespace fs = std::filesystem;

namespace {

std::string random_suffix() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned> dist(0, 15);
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back("0123456789abcdef"[dist(rd)]);
  return s;
}

/// Removes the temporaries of `base` in `dir` left by dfget processes that
/// are gone (killed before they could clean up): ".BASE.dfget-PID-XXXXXXXX.part"
/// whose PID no longer runs on this host.
void remove_orphans(const fs::path& dir, const std::string& base) {
  const std::string prefix = "." + base + ".dfget-";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.size() <= prefix.size() + 5 || name.rfind(prefix, 0) != 0 || !name.ends_with(".part"))
      continue;
    auto rest = std::string_view(name).substr(prefix.size());
    auto dash = rest.find('-');
    if (dash == std::string_view::npos || dash == 0) continue;
    pid_t pid = 0;
    auto [p, err] = std::from_chars(rest.data(), rest.data() + dash, pid);
    if (err != std::errc{} || p != rest.data() + dash || pid <= 0) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    std::error_code ignored;
    fs::remove(it->path(), ignored);
  }
}

}  // namespace

output_file::output_file(fs::path final_path, fs::path temp, unique_fd fd, unique_fd direct_fd)
    : final_(std::move(final_path)),
      temp_(std::move(temp)),
      fd_(std::move(fd)),
      direct_(std::move(direct_fd)) {}

result<std::unique_ptr<output_file>> output_file::create(const fs::path& final_path) {
  fs::path dir = final_path.parent_path();
  if (dir.empty()) dir = ".";
  std::string base = final_path.filename().string();
  if (base.empty()) return errc::invalid_argument;
  remove_orphans(dir, base);
  for (int attempt = 0; attempt < 16; ++attempt) {
    fs::path temp = dir / ("." + base + ".dfget-" + std::to_string(::getpid()) + "-" +
                           random_suffix() + ".part");
    int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      // tmpfs and some network filesystems refuse O_DIRECT; they get buffered writes only.
      unique_fd direct(::open(temp.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
      return std::unique_ptr<output_file>(
          new output_file(final_path, temp, unique_fd(fd), std::move(direct)));
    }
    if (errno != EEXIST) return last_system_error();
  }
  return error_code(EEXIST, boost::system::system_category());
}

result<std::unique_ptr<output_file>> output_file::open_resumable(const fs::path& final_path) {
  fs::path dir = final_path.parent_path();
  if (dir.empty()) dir = ".";
  std::string base = final_path.filename().string();
  if (base.empty()) return errc::invalid_argument;
  fs::path temp = dir / ("." + base + ".dfget.part");
  unique_fd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return last_system_error();
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
    return errno == EWOULDBLOCK ? error_code(errc::busy) : last_system_error();
  unique_fd direct(::open(temp.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
  return std::unique_ptr<output_file>(
      new output_file(final_path, temp, std::move(fd), std::move(direct)));
}

output_file::~output_file() {
  if (!committed_ && !keep_) {
    fd_.reset();
    ::unlink(temp_.c_str());
  }
}

error_code output_file::write(std::uint64_t offset, std::span<const std::byte> data) {
  return direct_.write(fd_.get(), offset, data);
}

error_code output_file::read(std::uint64_t offset, std::span<std::byte> out) {
  return read_exact_at(fd_.get(), offset, out);
}

error_code output_file::reserve(std::uint64_t length) {
  return check_room(fd_.get(), length);
}

error_code output_file::sync() {
  if (::fsync(fd_.get()) != 0) return last_system_error();
  return {};
}

error_code output_file::stream_to(int fd, std::uint64_t length) {
  if (auto ec = sync()) return ec;  // what the daemon wrote is complete before it is read
  off_t offset = 0;
  while (static_cast<std::uint64_t>(offset) < length) {
    auto want = static_cast<std::size_t>(
        std::min<std::uint64_t>(length - static_cast<std::uint64_t>(offset), 1u << 20));
    ssize_t n = ::sendfile(fd, fd_.get(), &offset, want);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EINVAL || errno == ENOSYS)) break;  // a target sendfile cannot feed
    if (n == 0) return errc::io_error;                         // shorter than promised
    return last_system_error();
  }
  // Plain reads and writes for the rest (terminals and the like).
  std::vector<std::byte> block(1u << 16);
  while (static_cast<std::uint64_t>(offset) < length) {
    auto want = std::min<std::uint64_t>(length - static_cast<std::uint64_t>(offset), block.size());
    auto chunk = std::span(block).first(static_cast<std::size_t>(want));
    if (auto ec = read_exact_at(fd_.get(), static_cast<std::uint64_t>(offset), chunk)) return ec;
    for (std::size_t done = 0; done < chunk.size();) {
      ssize_t n = ::write(fd, chunk.data() + done, chunk.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return last_system_error();
      done += static_cast<std::size_t>(n);
    }
    offset += static_cast<off_t>(want);
  }
  return {};
}

error_code output_file::take_shared(int fd, std::uint64_t length) {
  auto source = "/proc/self/fd/" + std::to_string(fd);
  fs::path linked = temp_;
  linked += ".link";
  if (::linkat(AT_FDCWD, source.c_str(), AT_FDCWD, linked.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    // Another file system (EXDEV), protected_hardlinks (EPERM), too many links: a copy.
    return copy_range(fd, fd_.get(), 0, length);
  }
  struct stat created {};
  if (::fstat(fd_.get(), &created) != 0 || ::rename(linked.c_str(), temp_.c_str()) != 0) {
    auto ec = last_system_error();
    ::unlink(linked.c_str());
    return ec;
  }
  unique_fd reopened(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!reopened) return last_system_error();
  fd_ = std::move(reopened);
  shared_ = true;
  // The mode this user's own file would have had; never writable by others,
  // whose writes would void the cache's copy (the file is the same).
  ::fchmod(fd_.get(), (created.st_mode & 07777) & ~mode_t{S_IWGRP | S_IWOTH});
  return {};
}

error_code output_file::commit(std::uint64_t length, std::optional<mode_t> mode,
                               std::optional<std::int64_t> mtime) {
  struct stat st {};
  bool same_size =
      shared_ && ::fstat(fd_.get(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) == length;
  if (!same_size && ::ftruncate(fd_.get(), static_cast<off_t>(length)) != 0)
    return last_system_error();
  const mode_t others_write = shared_ ? mode_t{S_IWGRP | S_IWOTH} : 0;  // see take_shared()
  if (mode && ::fchmod(fd_.get(), *mode & ~others_write) != 0) return last_system_error();
  if (mtime) {
    // After the truncation, which would stamp the file anew.
    const timespec times[2] = {{0, UTIME_NOW}, {static_cast<time_t>(*mtime), 0}};
    if (::futimens(fd_.get(), times) != 0) return last_system_error();
  }
  if (auto ec = sync()) return ec;
  if (::rename(temp_.c_str(), final_.c_str()) != 0) return last_system_error();
  committed_ = true;
  fs::path dir = final_.parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: the rename itself already happened
    ::close(dfd);
  }
  return {};
}

}  // namespace damselfly::dfget
