// SPDX-License-Identifier: Apache-2.0
// Ticket checks remembered: one Ed25519 verification per ticket, not per request.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "damselfly/common/ticket_verifier.hpp"

namespace damselfly {

/// What a piece server asks of every request: does this ticket open this
/// task for this peer under this supernode key? A peer presents the same
/// ticket with each of its hundreds of requests (and again after each busy
/// answer); parsing the key and verifying the signature every time (about
/// 60 µs) was a fifth of a daemon's CPU in a swarm. Tickets that verified
/// are remembered with their expiry, which is still checked each time;
/// anything else is verified again. Bounded; thread-safe.
class ticket_memo {
 public:
  /// As ticket_verifier::check under the key `key_hex`; nullopt when
  /// `key_hex` is not a public key.
  std::optional<ticket_check> check(std::string_view key_hex, std::string_view ticket,
                                    std::string_view task, std::string_view peer, std::int64_t now);
  /// Tickets remembered now.
  std::size_t remembered() const;

  /// Remembered tickets at most (then forgotten all at once: each is one
  /// verification away from being remembered again).
  static constexpr std::size_t most_tickets = 4096;
  /// Keys kept parsed at most (a key per supernode fleet, in practice one).
  static constexpr std::size_t most_keys = 16;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ticket_verifier, std::less<>> keys_;
  std::unordered_map<std::string, std::int64_t> good_;  ///< what was verified -> its expiry
};

}  // namespace damselfly
