// SPDX-License-Identifier: Apache-2.0
// output_target: classifying the output path (symlinks, devices, stdout) and publishing into it.
#include "output_target.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "damselfly/common/file_io.hpp"
#include "damselfly/common/unique_fd.hpp"
#include "damselfly/common/url.hpp"

namespace damselfly::dfget {

namespace fs = std::filesystem;

namespace {

/// Follows `p` while it is a symlink (at most 40 hops, as the kernel does):
/// the output is written through a link, never over it.
std::optional<fs::path> follow_links(fs::path p) {
  std::error_code ec;
  for (int hop = 0; hop < 40; ++hop) {
    if (!fs::is_symlink(fs::symlink_status(p, ec))) return p;
    auto to = fs::read_symlink(p, ec);
    if (ec) return std::nullopt;
    p = to.is_absolute() ? to : p.parent_path() / to;
  }
  return std::nullopt;
}

}  // namespace

std::optional<output_target> output_target::resolve(const std::string& output,
                                                    const std::string& prefix,
                                                    const std::string& url, std::string& why) {
  output_target t;
  if (output == "-") {
    t.what = kind::stream;
    t.display = "standard output";
    return t;
  }
  fs::path p = output;
  std::error_code ec;
  if (output.empty() || fs::is_directory(p, ec)) {
    auto name = url_file_name(url);
    if (name.empty()) {
      // wget's name for a URL whose path ends in '/'.
      auto u = http_url::parse(url);
      auto path = u ? u->target.substr(0, u->target.find('?')) : std::string();
      if (!path.empty() && path.back() == '/') name = "index.html";
    }
    if (name.empty()) {
      why = "the URL names no file to save as; give -O FILE";
      return std::nullopt;
    }
    p = output.empty() ? fs::path(name) : p / name;
  }
  if (!prefix.empty() && p.is_relative()) p = fs::path(prefix) / p;
  t.display = p.string();
  auto target = follow_links(p);
  if (!target) {
    why = p.string() + " is a symlink loop";
    return std::nullopt;
  }
  struct stat st {};
  if (::stat(target->c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      why = p.string() + " is a directory";
      return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
      // A device, FIFO or socket is written to, never replaced.
      if (::access(target->c_str(), W_OK) != 0) {
        why = "cannot write " + p.string() + ": " + std::strerror(errno);
        return std::nullopt;
      }
      t.what = kind::stream;
      t.path = *target;
      return t;
    }
    t.exists = true;
    t.mode = st.st_mode & 07777;
  }
  t.path = *target;
  return t;
}

result<std::unique_ptr<output_file>> output_target::open(bool resume) const {
  if (what == kind::stream) {
    std::error_code ec;
    auto dir = fs::temp_directory_path(ec);
    if (ec) dir = "/tmp";
    return output_file::create(dir / "dfget-stream");
  }
  return resume ? output_file::open_resumable(path) : output_file::create(path);
}

error_code output_target::publish(output_file& out, std::uint64_t length,
                                  std::optional<std::int64_t> mtime, std::string& why) const {
  if (what == kind::file) {
    auto ec = out.commit(length, mode, mtime);
    if (ec) why = "cannot publish " + display + ": " + ec.message();
    return ec;
  }
  unique_fd opened;
  int fd = STDOUT_FILENO;
  if (!to_stdout()) {
    // No O_CREAT, no O_TRUNC: the device or FIFO is there and stays itself.
    opened = unique_fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
    if (!opened) {
      auto ec = last_system_error();
      why = "cannot open " + display + ": " + ec.message();
      return ec;
    }
    fd = opened.get();
  }
  auto ec = out.stream_to(fd, length);
  if (ec) why = "cannot write " + display + ": " + ec.message();
  return ec;
}

}  // namespace damselfly::dfget
