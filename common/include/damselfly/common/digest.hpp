// SPDX-License-Identifier: Apache-2.0
// Streaming SHA-256 and MD5 through OpenSSL EVP, and "algo:hex" digest specs.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "damselfly/common/error.hpp"

namespace damselfly {

enum class digest_algo { sha256, md5 };

/// Incremental hash; feed bytes with update(), read the lowercase hex with finish().
class digest {
 public:
  explicit digest(digest_algo algo = digest_algo::sha256);
  ~digest();
  digest(digest&&) noexcept;
  digest& operator=(digest&&) noexcept;
  digest(const digest&) = delete;
  digest& operator=(const digest&) = delete;

  void update(std::span<const std::byte> data);
  void update(std::string_view data);
  /// Lowercase hex of the digest; the object starts over afterwards.
  std::string finish();
  digest_algo algo() const noexcept { return algo_; }

 private:
  struct ctx_deleter {
    void operator()(void* ctx) const noexcept;
  };
  digest_algo algo_;
  std::unique_ptr<void, ctx_deleter> ctx_;
};

/// One-shot SHA-256 of a buffer, lowercase hex.
std::string sha256_hex(std::string_view data);

/// HMAC-SHA256 of `data` under `key`, lowercase hex.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// Hash of a whole file, read in 1 MiB blocks.
result<std::string> file_digest(const std::filesystem::path& path, digest_algo algo);

/// An expected digest as the user spells it: "sha256:HEX" or "md5:HEX".
struct digest_spec {
  digest_algo algo = digest_algo::sha256;
  std::string hex;  ///< lowercase

  /// Parses "sha256:HEX" / "md5:HEX"; rejects unknown algorithms and wrong lengths.
  static result<digest_spec> parse(std::string_view text);
  std::string to_string() const;
};

std::string_view to_string(digest_algo algo) noexcept;

}  // namespace damselfly
