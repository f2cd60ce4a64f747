// SPDX-License-Identifier: Apache-2.0
// Issues piece tickets: Ed25519 signatures over (task, peer, expiry) that daemons verify offline.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace damselfly {

/// Holds the supernode's ticket key pair. A ticket says "peer P may fetch
/// pieces of task T until time E"; whoever knows the public key checks it
/// with a ticket_verifier, without asking the supernode. The private key is
/// derived from the process secret, so a restarted supernode keeps issuing
/// tickets that the daemons it told its public key still accept.
class ticket_signer {
 public:
  /// Derives the key pair from `secret` (any length; the supernode's identity key).
  explicit ticket_signer(std::string_view secret);
  ~ticket_signer();
  ticket_signer(ticket_signer&&) noexcept;
  ticket_signer& operator=(ticket_signer&&) noexcept;
  ticket_signer(const ticket_signer&) = delete;
  ticket_signer& operator=(const ticket_signer&) = delete;

  /// The public key as 64 lowercase hex characters, for registration answers.
  const std::string& public_key() const noexcept { return public_key_; }
  /// A ticket for `peer` to fetch pieces of `task` until `expires` (unix seconds).
  std::string issue(std::string_view task, std::string_view peer, std::int64_t expires) const;
  /// "DIGEST.SIGNATURE" (both base64) saying piece `piece` of `task` in
  /// `version` hashes to `sha256_hex`: the value of signed_digest_header,
  /// which peers pass on with the piece and check with the public key.
  std::string sign_digest(std::string_view task, std::string_view version, std::uint64_t piece,
                          std::string_view sha256_hex) const;

 private:
  std::string sign(std::string_view message) const;
  struct key_deleter {
    void operator()(void* key) const noexcept;
  };
  std::unique_ptr<void, key_deleter> key_;
  std::string public_key_;
};

/// The bytes a ticket signs: a fixed label, then task, peer and expiry.
std::string ticket_message(std::string_view task, std::string_view peer, std::int64_t expires);
/// The bytes a signed digest signs: another label, task, version, piece, digest.
std::string digest_message(std::string_view task, std::string_view version, std::uint64_t piece,
                           std::string_view sha256_hex);

}  // namespace damselfly
