// SPDX-License-Identifier: Apache-2.0
// Ed25519 ticket checks through OpenSSL EVP; every byte of the ticket is the requester's.
#include "damselfly/common/ticket_verifier.hpp"

#include <openssl/evp.h>

#include <charconv>

#include "damselfly/common/base64.hpp"
#include "damselfly/common/hex.hpp"
#include "damselfly/common/ticket_signer.hpp"

namespace damselfly {

namespace {

EVP_PKEY* as_key(void* p) {
  return static_cast<EVP_PKEY*>(p);
}

constexpr std::size_t signature_hex = 128;

}  // namespace

std::string_view describe(ticket_check c) noexcept {
  switch (c) {
    case ticket_check::ok:
      return "valid";
    case ticket_check::missing:
      return "no ticket (X-Damselfly-Ticket, from the supernode's sync answer)";
    case ticket_check::malformed:
      return "the ticket is not one the supernode issues";
    case ticket_check::expired:
      return "the ticket has expired";
    case ticket_check::forged:
      return "the ticket was not issued for this task and peer";
  }
  return "invalid ticket";
}

void ticket_verifier::key_deleter::operator()(void* key) const noexcept {
  EVP_PKEY_free(as_key(key));
}

std::optional<ticket_verifier> ticket_verifier::from_public_key(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto raw = from_hex(hex);
  if (!raw) return std::nullopt;
  auto* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw->data()), raw->size());
  if (!key) return std::nullopt;
  return ticket_verifier(key);
}

ticket_verifier::~ticket_verifier() = default;
ticket_verifier::ticket_verifier(ticket_verifier&&) noexcept = default;
ticket_verifier& ticket_verifier::operator=(ticket_verifier&&) noexcept = default;

ticket_check ticket_verifier::check(std::string_view ticket, std::string_view task,
                                    std::string_view peer, std::int64_t now) const {
  if (ticket.empty()) return ticket_check::missing;
  auto dot = ticket.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19 ||
      ticket.size() - dot - 1 != signature_hex)
    return ticket_check::malformed;
  std::int64_t expires = 0;
  auto digits = ticket.substr(0, dot);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), expires);
  // Canonical digits only (as issued): one ticket, one spelling.
  if (ec != std::errc{} || end != digits.data() + digits.size() || expires < 0 ||
      (digits.size() > 1 && digits[0] == '0'))
    return ticket_check::malformed;
  auto sig = from_hex(ticket.substr(dot + 1));
  if (!sig) return ticket_check::malformed;
  // The signature first: an expired forgery is a forgery.
  if (!verify(ticket_message(task, peer, expires), *sig)) return ticket_check::forged;
  if (ticket_expired(expires, now)) return ticket_check::expired;
  return ticket_check::ok;
}

bool ticket_verifier::verify(std::string_view message, std::string_view signature) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  return ctx &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, as_key(key_.get())) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::optional<std::string> ticket_verifier::check_digest(std::string_view signed_digest,
                                                         std::string_view task,
                                                         std::string_view version,
                                                         std::uint64_t piece) const {
  // 44 characters of digest, a dot, 88 of signature: nothing else is read.
  if (signed_digest.size() != 44 + 1 + 88 || signed_digest[44] != '.') return std::nullopt;
  auto digest = from_base64(signed_digest.substr(0, 44));
  auto sig = from_base64(signed_digest.substr(45));
  if (!digest || digest->size() != 32 || !sig || sig->size() != 64) return std::nullopt;
  auto hex = to_hex(digest->data(), digest->size());
  if (!verify(digest_message(task, version, piece, hex), *sig)) return std::nullopt;
  return hex;
}

}  // namespace damselfly
