// SPDX-License-Identifier: Apache-2.0
// Ed25519 ticket checks through OpenSSL EVP; every byte of the ticket is the requester's.
#include "damselfly/common/ticket_verifier.hpp"

#include <openssl/evp.h>

#include <charconv>

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
  auto message = ticket_message(task, peer, expires);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, as_key(key_.get())) != 1)
    return ticket_check::forged;
  if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
    return ticket_check::forged;
  if (now > expires && now - expires > ticket_clock_skew) return ticket_check::expired;
  return ticket_check::ok;
}

}  // namespace damselfly
