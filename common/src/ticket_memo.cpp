// SPDX-License-Identifier: Apache-2.0
// Remembered ticket checks: the signature once, the expiry every time.
#include "damselfly/common/ticket_memo.hpp"

#include <charconv>

namespace damselfly {

namespace {

/// Each part with its length in front: no two different requests share a
/// spelling, whatever bytes a peer puts in its headers.
std::string memo_key(std::string_view key_hex, std::string_view ticket, std::string_view task,
                     std::string_view peer) {
  std::string out;
  out.reserve(key_hex.size() + ticket.size() + task.size() + peer.size() + 24);
  for (auto part : {key_hex, task, peer, ticket}) {
    out += std::to_string(part.size());
    out += ':';
    out += part;
  }
  return out;
}

/// The expiry a well-formed ticket states ("EXPIRY.SIGNATURE").
std::int64_t expiry_of(std::string_view ticket) {
  std::int64_t expires = 0;
  std::from_chars(ticket.data(), ticket.data() + ticket.find('.'), expires);
  return expires;
}

}  // namespace

std::optional<ticket_check> ticket_memo::check(std::string_view key_hex, std::string_view ticket,
                                               std::string_view task, std::string_view peer,
                                               std::int64_t now) {
  auto key = memo_key(key_hex, ticket, task, peer);
  std::lock_guard lock(mu_);
  if (auto it = good_.find(key); it != good_.end())
    return ticket_expired(it->second, now) ? ticket_check::expired : ticket_check::ok;
  auto v = keys_.find(key_hex);
  if (v == keys_.end()) {
    auto parsed = ticket_verifier::from_public_key(key_hex);
    if (!parsed) return std::nullopt;
    if (keys_.size() >= most_keys) keys_.clear();
    v = keys_.emplace(std::string(key_hex), std::move(*parsed)).first;
  }
  auto verdict = v->second.check(ticket, task, peer, now);
  if (verdict == ticket_check::ok) {
    if (good_.size() >= most_tickets) good_.clear();
    good_.emplace(std::move(key), expiry_of(ticket));
  }
  return verdict;
}

std::size_t ticket_memo::remembered() const {
  std::lock_guard lock(mu_);
  return good_.size();
}

}  // namespace damselfly
