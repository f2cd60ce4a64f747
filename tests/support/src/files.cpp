// SPDX-License-Identifier: Apache-2.0
// Deterministic test files.
#include "damselfly/test_support/files.hpp"

#include <fstream>
#include <sstream>
#include <vector>

#include "damselfly/common/digest.hpp"

namespace damselfly::test {

void make_file(const std::filesystem::path& path, std::uint64_t size, std::uint64_t seed) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  std::vector<std::uint64_t> block(1 << 17);  // 1 MiB
  while (size > 0) {
    for (auto& w : block) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      w = x;
    }
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size, block.size() * 8));
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    size -= n;
  }
}

std::string sha256_file(const std::filesystem::path& path) {
  auto r = file_digest(path, digest_algo::sha256);
  return r ? *r : std::string();
}

std::filesystem::path write_secret(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text << "\n";
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return path;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace damselfly::test
