// SPDX-License-Identifier: Apache-2.0
// Whether a file range is in the page cache, and bringing it in off the I/O thread.
#pragma once

#include <cstdint>

#include "damselfly/common/error.hpp"

namespace damselfly {

/// Whether every page of [offset, offset+length) of `fd` is in the page
/// cache, so that reading or sending it will not wait for the disk. False
/// where it cannot tell (the caller then treats the range as on disk).
bool in_page_cache(int fd, std::uint64_t offset, std::uint64_t length);

/// Reads [offset, offset+length) of `fd` into the page cache and waits until
/// it is there, without copying it anywhere: all of it is asked of the disk
/// at once, then waited for. Blocks, so it belongs on a worker thread; a
/// sendfile of the range afterwards finds it in memory.
error_code load_into_page_cache(int fd, std::uint64_t offset, std::uint64_t length);

}  // namespace damselfly
