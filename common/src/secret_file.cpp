// SPDX-License-Identifier: Apache-2.0
// Loading and first-time creation of a secret key file.
#include "damselfly/common/secret_file.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <vector>

#include "damselfly/common/hex.hpp"
#include "damselfly/common/unique_fd.hpp"

namespace damselfly {

namespace {

constexpr std::size_t key_bytes = 32;

error_code fail(std::string* why, std::string message, error_code ec) {
  if (why) *why = std::move(message);
  return ec;
}

error_code last_error() {
  return error_code(errno, boost::system::system_category());
}

}  // namespace

result<std::string> load_or_create_secret(const std::filesystem::path& path, std::string* why) {
  const auto name = path.string();
  std::string hex = random_hex(key_bytes);
  hex.push_back('\n');
  // O_EXCL: of two processes starting together, one writes and both read it.
  unique_fd created(::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (created) {
    if (::write(created.get(), hex.data(), hex.size()) != static_cast<ssize_t>(hex.size()) ||
        ::fsync(created.get()) != 0) {
      auto ec = last_error();
      ::unlink(name.c_str());
      return fail(why, "cannot write " + name + ": " + ec.message(), ec);
    }
  } else if (errno != EEXIST) {
    auto ec = last_error();
    return fail(why, "cannot create " + name + ": " + ec.message(), ec);
  }
  unique_fd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) {
    auto ec = last_error();
    return fail(why, "cannot read " + name + ": " + ec.message(), ec);
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 || st.st_uid != ::geteuid())
    return fail(why,
                name +
                    " must be a regular file owned by this user and readable by it alone "
                    "(chmod 600)",
                errc::invalid_argument);
  std::array<char, 2 * key_bytes + 2> text{};
  auto n = ::read(fd.get(), text.data(), text.size());
  std::string_view got(text.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
  if (!got.empty() && got.back() == '\n') got.remove_suffix(1);
  auto key = got.size() == 2 * key_bytes ? from_hex(got) : std::nullopt;
  if (!key)
    return fail(why, name + " does not hold a key (64 hex characters)", errc::invalid_argument);
  return *key;
}

bool same_secret(std::string_view a, std::string_view b) {
  // Length is not secret; the bytes are compared without an early exit.
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("no random bytes");
  return to_hex(raw.data(), raw.size());
}

}  // namespace damselfly
