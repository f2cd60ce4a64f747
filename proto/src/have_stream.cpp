// SPDX-License-Identifier: Apache-2.0
// Writing and reading the have stream's lines.
#include "damselfly/proto/have_stream.hpp"

#include <charconv>

#include "damselfly/proto/messages.hpp"

namespace damselfly::proto {

std::string have_stream_start(const std::vector<bool>& held) {
  return "b " + encode_bitmap(held) + "\n";
}

std::string have_stream_piece(std::uint64_t piece) {
  return std::to_string(piece) + "\n";
}

std::string have_stream_reader::feed(std::string_view bytes,
                                     const std::function<void(std::uint64_t)>& held) {
  // The longest line a well-formed stream has: the bitmap's.
  const std::uint64_t longest = count_ + 2;
  while (error_.empty() && !bytes.empty()) {
    auto end = bytes.find('\n');
    auto take = bytes.substr(0, end);
    if (partial_.size() + take.size() > longest) {
      error_ = "a have stream line longer than the task's bitmap";
      break;
    }
    partial_.append(take);
    if (end == std::string_view::npos) break;
    bytes.remove_prefix(end + 1);
    error_ = line(partial_, held);
    partial_.clear();
  }
  return error_;
}

std::string have_stream_reader::line(std::string_view text,
                                     const std::function<void(std::uint64_t)>& held) {
  if (!started_) {
    if (!text.starts_with("b ") || text.size() - 2 != count_)
      return "a have stream must start with a bitmap of the task's " + std::to_string(count_) +
             " pieces";
    for (std::uint64_t i = 0; i < count_; ++i) {
      char c = text[2 + i];
      if (c != '0' && c != '1') return "a have stream bitmap of other characters than 0 and 1";
      if (c == '1') held(i);
    }
    started_ = true;
    return "";
  }
  if (text.empty()) return "";  // keep-alive
  std::uint64_t piece = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), piece);
  if (ec != std::errc{} || end != text.data() + text.size() || text.size() > 20)
    return "a have stream line that is no piece number";
  if (piece >= count_)
    return "a have stream names piece " + std::to_string(piece) + " of " + std::to_string(count_);
  held(piece);
  return "";
}

}  // namespace damselfly::proto
