// SPDX-License-Identifier: Apache-2.0
// Lowercase hex encoding of bytes, and its strict inverse.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace damselfly {

/// Lowercase hex of `size` bytes at `data`.
std::string to_hex(const void* data, std::size_t size);

/// The bytes `hex` spells (lowercase digits, even length); nullopt otherwise.
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace damselfly
