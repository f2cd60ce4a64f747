// SPDX-License-Identifier: Apache-2.0
// A piece on its way in: its buffer, and its digest computed slice by slice as bytes land.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>

#include "damselfly/common/aligned_buffer.hpp"
#include "damselfly/common/digest.hpp"

namespace damselfly::dfget {

/// The I/O thread receives into `buf` and publishes how far it got in
/// `landed`; workers hash what has landed, a slice at a time, while the
/// rest arrives, so a piece's verdict follows its last byte instead of a
/// whole piece's hashing. Held by a shared_ptr that queued slices share: a
/// fetch that unwinds early frees nothing they read.
class piece_landing {
 public:
  aligned_buffer buf;
  /// Bytes in `buf` so far, stored (release) by the I/O thread after they land.
  std::atomic<std::size_t> landed{0};
  std::size_t queued = 0;  ///< `landed` when the last slice was posted (I/O thread only)

  /// Hashes what has landed and is not hashed yet. Calls may come in any
  /// order from any thread: each takes whatever follows the last one.
  void hash_landed();
  /// The SHA-256 (lowercase hex) of what has been hashed; call once, when
  /// everything has landed and hash_landed() has run after that.
  std::string finish();
  /// The buffer for the next piece, once nothing else holds this: the lock
  /// orders the last slice's reads before the next piece's writes.
  aligned_buffer take_buffer();

 private:
  std::mutex m_;
  digest hash_{digest_algo::sha256};
  std::size_t hashed_ = 0;
};

}  // namespace damselfly::dfget
