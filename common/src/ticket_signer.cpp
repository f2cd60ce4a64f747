// SPDX-License-Identifier: Apache-2.0
// Ed25519 ticket issuing through OpenSSL EVP.
#include "damselfly/common/ticket_signer.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

#include "damselfly/common/base64.hpp"
#include "damselfly/common/hex.hpp"

namespace damselfly {

namespace {

EVP_PKEY* as_key(void* p) {
  return static_cast<EVP_PKEY*>(p);
}

/// The Ed25519 seed: the secret keyed for this one use, so the signing key
/// reveals nothing about the secret's other uses (private task ids).
std::array<unsigned char, 32> seed_from(std::string_view secret) {
  static constexpr std::string_view label = "damselfly piece ticket key v1";
  std::array<unsigned char, 32> seed{};
  unsigned len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(label.data()), label.size(), seed.data(),
            &len) ||
      len != seed.size())
    throw std::runtime_error("HMAC failed");
  return seed;
}

}  // namespace

std::string ticket_message(std::string_view task, std::string_view peer, std::int64_t expires) {
  std::string m = "damselfly-ticket-v1\n";
  m.append(task).append("\n").append(peer).append("\n").append(std::to_string(expires));
  return m;
}

void ticket_signer::key_deleter::operator()(void* key) const noexcept {
  EVP_PKEY_free(as_key(key));
}

ticket_signer::ticket_signer(std::string_view secret) {
  auto seed = seed_from(secret);
  key_.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!key_) throw std::runtime_error("cannot make an Ed25519 key");
  std::array<unsigned char, 32> pub{};
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(as_key(key_.get()), pub.data(), &len) != 1 || len != pub.size())
    throw std::runtime_error("cannot read the Ed25519 public key");
  public_key_ = to_hex(pub.data(), pub.size());
}

ticket_signer::~ticket_signer() = default;
ticket_signer::ticket_signer(ticket_signer&&) noexcept = default;
ticket_signer& ticket_signer::operator=(ticket_signer&&) noexcept = default;

std::string digest_message(std::string_view task, std::string_view version, std::uint64_t piece,
                           std::string_view sha256_hex) {
  std::string m = "damselfly-digest-v1\n";
  m.append(task).append("\n").append(version).append("\n").append(std::to_string(piece));
  m.append("\n").append(sha256_hex);
  return m;
}

std::string ticket_signer::sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::array<unsigned char, 64> sig{};
  std::size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, as_key(key_.get())) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
    throw std::runtime_error("Ed25519 signing failed");
  return std::string(reinterpret_cast<const char*>(sig.data()), len);
}

std::string ticket_signer::issue(std::string_view task, std::string_view peer,
                                 std::int64_t expires) const {
  auto sig = sign(ticket_message(task, peer, expires));
  return std::to_string(expires) + "." + to_hex(sig.data(), sig.size());
}

std::string ticket_signer::sign_digest(std::string_view task, std::string_view version,
                                       std::uint64_t piece, std::string_view sha256_hex) const {
  auto raw = from_hex(sha256_hex);
  if (!raw || raw->size() != 32) throw std::invalid_argument("not a SHA-256 in hex");
  auto sig = sign(digest_message(task, version, piece, sha256_hex));
  return to_base64(*raw) + "." + to_base64(sig);
}

}  // namespace damselfly
