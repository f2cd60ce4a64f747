// SPDX-License-Identifier: Apache-2.0
// Test data: deterministic pseudo-random files and whole-file digests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace damselfly::test {

/// Writes `size` pseudo-random bytes (xorshift from `seed`) to `path`.
void make_file(const std::filesystem::path& path, std::uint64_t size, std::uint64_t seed);

/// SHA-256 hex of a file, or "" if it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

/// Writes `text` and a newline to `path`, readable by its owner only (0600),
/// as token files must be; returns `path`.
std::filesystem::path write_secret(const std::filesystem::path& path, const std::string& text);

/// Reads a whole (small) file into a string; "" when missing.
std::string read_text(const std::filesystem::path& path);

}  // namespace damselfly::test
