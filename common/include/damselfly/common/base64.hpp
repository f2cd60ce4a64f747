// SPDX-License-Identifier: Apache-2.0
// Standard base64 (RFC 4648, padded) of bytes, and its strict inverse.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace damselfly {

/// Padded base64 of `bytes`.
std::string to_base64(std::string_view bytes);

/// The bytes `text` spells in padded base64; nullopt for anything else
/// (whitespace, a missing or extra '=', non-zero bits after the last byte):
/// each byte string has exactly one accepted spelling.
std::optional<std::string> from_base64(std::string_view text);

}  // namespace damselfly
