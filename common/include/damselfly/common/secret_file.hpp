// SPDX-License-Identifier: Apache-2.0
// A process's persistent secret key: created once with random bytes, readable by its owner only.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "damselfly/common/error.hpp"

namespace damselfly {

/// The 32-byte secret kept in `path` (as 64 hex characters), created with
/// fresh random bytes and mode 0600 when the file does not exist. A file
/// that others may read, or that does not hold such a key, is an error
/// (`why` says which) rather than a key anyone could know.
result<std::string> load_or_create_secret(const std::filesystem::path& path,
                                          std::string* why = nullptr);

/// `bytes` fresh random bytes as lowercase hex (keys handed to peers).
std::string random_hex(std::size_t bytes);

/// Equal secrets, compared without an early exit.
bool same_secret(std::string_view a, std::string_view b);

}  // namespace damselfly
