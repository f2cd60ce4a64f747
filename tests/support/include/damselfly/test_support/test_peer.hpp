// SPDX-License-Identifier: Apache-2.0
// A peer a test registers by hand at a supernode: its key and piece ticket, for requests made as
// it.
#pragma once

#include <cstdint>
#include <string>

namespace damselfly::test {

/// Registers a peer (the JSON `register_body` names it) at the supernode on
/// `port`, then syncs once asking for nothing, which answers with a ticket.
/// `extra`: header lines for both requests (a cluster token), each ending in \r\n.
class test_peer {
 public:
  test_peer(std::uint16_t port, const std::string& register_body, const std::string& extra = "");

  /// Whether the registration and the sync were both answered 200.
  bool ok() const noexcept { return ok_; }
  const std::string& task_id() const noexcept { return task_id_; }
  const std::string& peer_id() const noexcept { return peer_id_; }
  const std::string& key() const noexcept { return key_; }
  const std::string& ticket() const noexcept { return ticket_; }
  /// Header lines of a piece request as this peer, carrying its ticket (and
  /// its key, which only the supernode is shown), each ending in \r\n.
  std::string piece_headers(bool with_key = false) const;

 private:
  bool ok_ = false;
  std::string task_id_;
  std::string peer_id_;
  std::string key_;
  std::string ticket_;
};

}  // namespace damselfly::test
