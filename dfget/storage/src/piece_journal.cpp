// SPDX-License-Identifier: Apache-2.0
// Piece journal: "boot <id>" then one decimal piece index per line.
#include "damselfly/dfget_storage/piece_journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <span>

#include "damselfly/common/file_io.hpp"

namespace damselfly::dfget {

namespace {

std::string header_line() {
  return "boot " + current_boot_id() + "\n";
}

error_code append_text(int fd, const std::string& text) {
  // O_APPEND: one write() per line lands whole, whoever else appends.
  auto n = ::write(fd, text.data(), text.size());
  if (n < 0) return last_system_error();
  return static_cast<std::size_t>(n) == text.size() ? error_code{} : error_code(errc::io_error);
}

}  // namespace

std::vector<std::uint64_t> piece_journal::load(const std::filesystem::path& path) {
  std::vector<std::uint64_t> out;
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string header = header_line();
  if (current_boot_id().empty() || text.rfind(header, 0) != 0) return out;
  std::size_t pos = header.size();
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) break;  // a line cut short by a crash is ignored
    std::uint64_t piece = 0;
    auto [p, ec] = std::from_chars(text.data() + pos, text.data() + end, piece);
    if (ec == std::errc{} && p == text.data() + end) out.push_back(piece);
    pos = end + 1;
  }
  return out;
}

result<piece_journal> piece_journal::open(const std::filesystem::path& path) {
  const std::string header = header_line();
  bool fresh = true;
  {
    std::ifstream in(path, std::ios::binary);
    std::string first(header.size(), '\0');
    if (in.read(first.data(), static_cast<std::streamsize>(first.size())) && first == header)
      fresh = false;
  }
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (fresh ? O_TRUNC : 0);
  unique_fd fd(::open(path.c_str(), flags, 0600));
  if (!fd) return last_system_error();
  if (fresh) {
    if (auto ec = append_text(fd.get(), header)) return ec;
  }
  return piece_journal(std::move(fd));
}

error_code piece_journal::append(std::uint64_t piece) {
  if (!fd_) return errc::io_error;
  return append_text(fd_.get(), std::to_string(piece) + "\n");
}

}  // namespace damselfly::dfget
