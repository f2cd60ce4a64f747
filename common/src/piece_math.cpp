// SPDX-License-Identifier: Apache-2.0
// Piece sizing and ranges.
#include "damselfly/common/piece_math.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>

namespace damselfly {

std::uint64_t choose_piece_size(std::int64_t length, const piece_sizing& rule) {
  if (rule.fixed_size != 0) return rule.fixed_size;
  if (length < 0) return rule.unknown_length_size;
  std::uint64_t per_piece =
      static_cast<std::uint64_t>(length) / std::max<std::uint64_t>(1, rule.target_pieces);
  std::uint64_t size = std::bit_ceil(std::max<std::uint64_t>(per_piece, 1));
  return std::clamp(size, rule.min_size, rule.max_size);
}

std::uint64_t piece_count(std::uint64_t length, std::uint64_t piece_size) {
  if (piece_size == 0) throw std::invalid_argument("piece size 0");
  return (length + piece_size - 1) / piece_size;
}

piece_range piece_at(std::uint64_t index, std::uint64_t length, std::uint64_t piece_size) {
  std::uint64_t offset = index * piece_size;
  if (offset >= length) throw std::out_of_range("piece index beyond the end of the file");
  return {offset, std::min(piece_size, length - offset)};
}

}  // namespace damselfly
