// SPDX-License-Identifier: Apache-2.0
// Piece sizing and the byte ranges of pieces.
#pragma once

#include <cstdint>

namespace damselfly {

/// The byte range [offset, offset + length) of one piece.
struct piece_range {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint64_t end() const noexcept { return offset + length; }
  friend bool operator==(const piece_range&, const piece_range&) = default;
};

/// Piece sizing rule. A fixed size, when set, wins; otherwise the size is the
/// power of two that gives about `target_pieces` pieces, clamped to [min, max].
struct piece_sizing {
  std::uint64_t fixed_size = 0;
  /// Small enough that a 16 MiB file has 256 pieces to pipeline through a
  /// swarm: a node relays a piece only once it has it whole, so the last
  /// node's lag behind the supernode is a number of pieces (docs/benchmarks.md,
  /// "Compact sync answers and 64 KiB pieces").
  std::uint64_t min_size = 64ull << 10;
  std::uint64_t max_size = 16ull << 20;
  std::uint64_t target_pieces = 256;
  /// Used when the origin does not tell the length up front.
  std::uint64_t unknown_length_size = 4ull << 20;
};

/// Piece size for a file of `length` bytes; length < 0 means unknown.
std::uint64_t choose_piece_size(std::int64_t length, const piece_sizing& rule = {});

/// Number of pieces of a file; a 0-byte file has 0 pieces.
std::uint64_t piece_count(std::uint64_t length, std::uint64_t piece_size);

/// Range of piece `index`; the last piece may be short.
piece_range piece_at(std::uint64_t index, std::uint64_t length, std::uint64_t piece_size);

}  // namespace damselfly
