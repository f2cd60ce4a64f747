// SPDX-License-Identifier: Apache-2.0
// OpenSSL EVP-backed digests.
#include "damselfly/common/digest.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <stdexcept>
#include <vector>

#include "damselfly/common/hex.hpp"

namespace damselfly {
namespace {

const EVP_MD* md_for(digest_algo algo) {
  return algo == digest_algo::md5 ? EVP_md5() : EVP_sha256();
}

EVP_MD_CTX* as_ctx(void* p) {
  return static_cast<EVP_MD_CTX*>(p);
}

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), md.data(), &len))
    throw std::runtime_error("HMAC failed");
  return to_hex(md.data(), len);
}

void digest::ctx_deleter::operator()(void* ctx) const noexcept {
  EVP_MD_CTX_free(as_ctx(ctx));
}

digest::digest(digest_algo algo) : algo_(algo), ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(as_ctx(ctx_.get()), md_for(algo_), nullptr) != 1)
    throw std::runtime_error("EVP_DigestInit_ex failed");
}

digest::~digest() = default;
digest::digest(digest&&) noexcept = default;
digest& digest::operator=(digest&&) noexcept = default;

void digest::update(std::span<const std::byte> data) {
  if (!data.empty()) EVP_DigestUpdate(as_ctx(ctx_.get()), data.data(), data.size());
}

void digest::update(std::string_view data) {
  update(std::as_bytes(std::span(data)));
}

std::string digest::finish() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned len = 0;
  EVP_DigestFinal_ex(as_ctx(ctx_.get()), md.data(), &len);
  EVP_DigestInit_ex(as_ctx(ctx_.get()), md_for(algo_), nullptr);
  return to_hex(md.data(), len);
}

std::string sha256_hex(std::string_view data) {
  digest d(digest_algo::sha256);
  d.update(data);
  return d.finish();
}

result<std::string> file_digest(const std::filesystem::path& path, digest_algo algo) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error_code(errno, boost::system::system_category());
  digest d(algo);
  std::vector<std::byte> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      error_code ec(errno, boost::system::system_category());
      ::close(fd);
      return ec;
    }
    if (n == 0) break;
    d.update(std::span(buf.data(), static_cast<std::size_t>(n)));
  }
  ::close(fd);
  return d.finish();
}

std::string_view to_string(digest_algo algo) noexcept {
  return algo == digest_algo::md5 ? "md5" : "sha256";
}

result<digest_spec> digest_spec::parse(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return errc::invalid_argument;
  auto name = text.substr(0, colon);
  digest_spec spec;
  std::size_t want_len = 0;
  if (name == "sha256") {
    spec.algo = digest_algo::sha256;
    want_len = 64;
  } else if (name == "md5") {
    spec.algo = digest_algo::md5;
    want_len = 32;
  } else {
    return errc::invalid_argument;
  }
  auto hex = text.substr(colon + 1);
  if (hex.size() != want_len) return errc::invalid_argument;
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return errc::invalid_argument;
    spec.hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return spec;
}

std::string digest_spec::to_string() const {
  return std::string(damselfly::to_string(algo)) + ":" + hex;
}

}  // namespace damselfly
