// SPDX-License-Identifier: Apache-2.0
// Temp-file-and-rename publishing of downloads.
#include "damselfly/dfget_storage/output_file.hpp"

#include "damselfly/common/file_io.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdint>
#include <random>

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

}  // namespace

output_file::output_file(fs::path final_path, fs::path temp, unique_fd fd, unique_fd direct_fd)
    : final_(std::move(final_path)),
      temp_(std::move(temp)),
      fd_(std::move(fd)),
      direct_fd_(std::move(direct_fd)) {}

result<std::unique_ptr<output_file>> output_file::create(const fs::path& final_path) {
  fs::path dir = final_path.parent_path();
  if (dir.empty()) dir = ".";
  std::string base = final_path.filename().string();
  if (base.empty()) return errc::invalid_argument;
  for (int attempt = 0; attempt < 16; ++attempt) {
    fs::path temp = dir / ("." + base + ".dfget-" + random_suffix() + ".part");
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
    direct_fd_.reset();
    ::unlink(temp_.c_str());
  }
}

error_code output_file::write(std::uint64_t offset, std::span<const std::byte> data) {
  bool aligned = offset % direct_alignment == 0 && data.size() % direct_alignment == 0 &&
                 reinterpret_cast<std::uintptr_t>(data.data()) % direct_alignment == 0;
  return write_all_at(direct_fd_ && aligned ? direct_fd_.get() : fd_.get(), offset, data);
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

error_code output_file::commit(std::uint64_t length) {
  if (::ftruncate(fd_.get(), static_cast<off_t>(length)) != 0) return last_system_error();
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
