// SPDX-License-Identifier: Apache-2.0
// Checks a piece ticket against the issuing supernode's public key, with no call to it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace damselfly {

/// What a ticket check found.
enum class ticket_check {
  ok,
  missing,    ///< no ticket presented
  malformed,  ///< not "EXPIRY.SIGNATURE" as tickets are written
  expired,    ///< past its expiry (plus the allowed clock skew)
  forged,     ///< the signature does not hold for this task, peer and key
};

/// One line for a refusal's message.
std::string_view describe(ticket_check c) noexcept;

/// The request header a piece request carries its ticket in.
inline constexpr std::string_view ticket_header = "X-Damselfly-Ticket";

/// The response header a piece comes with when the supernode's signature of
/// its digest is known to the sender (ticket_signer::sign_digest).
inline constexpr std::string_view signed_digest_header = "X-Damselfly-Signed-Digest";
/// The request header ("1") asking for signed_digest_header with the piece.
inline constexpr std::string_view want_signed_digest_header = "X-Damselfly-Want-Signed-Digest";

/// How far a verifier's clock may run ahead of the issuer's, in seconds.
inline constexpr std::int64_t ticket_clock_skew = 60;

/// Whether a ticket expiring at `expires` is over at `now` (unix seconds),
/// the clock skew allowed.
constexpr bool ticket_expired(std::int64_t expires, std::int64_t now) noexcept {
  return now > expires && now - expires > ticket_clock_skew;
}

class ticket_verifier {
 public:
  /// A verifier for the key `hex` (64 lowercase hex characters); nullopt
  /// when the text is not such a key.
  static std::optional<ticket_verifier> from_public_key(std::string_view hex);
  ~ticket_verifier();
  ticket_verifier(ticket_verifier&&) noexcept;
  ticket_verifier& operator=(ticket_verifier&&) noexcept;
  ticket_verifier(const ticket_verifier&) = delete;
  ticket_verifier& operator=(const ticket_verifier&) = delete;

  /// Whether `ticket` lets `peer` fetch pieces of `task` at `now` (unix seconds).
  ticket_check check(std::string_view ticket, std::string_view task, std::string_view peer,
                     std::int64_t now) const;
  /// The SHA-256 (lowercase hex) that `signed` (a signed_digest_header
  /// value) vouches for as piece `piece` of `task` in `version`; nullopt
  /// when it is malformed or not signed by this key for exactly that.
  std::optional<std::string> check_digest(std::string_view signed_digest, std::string_view task,
                                          std::string_view version, std::uint64_t piece) const;

 private:
  bool verify(std::string_view message, std::string_view signature) const;
  struct key_deleter {
    void operator()(void* key) const noexcept;
  };
  explicit ticket_verifier(void* key) : key_(key) {}
  std::unique_ptr<void, key_deleter> key_;
};

}  // namespace damselfly
