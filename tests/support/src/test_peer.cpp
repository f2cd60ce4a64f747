// SPDX-License-Identifier: Apache-2.0
// test_peer: registration and one sync through raw HTTP.
#include "damselfly/test_support/test_peer.hpp"

#include <nlohmann/json.hpp>

#include "damselfly/test_support/net.hpp"

namespace damselfly::test {

using nlohmann::json;

test_peer::test_peer(std::uint16_t port, const std::string& register_body,
                     const std::string& extra) {
  peer_id_ = json::parse(register_body).value("peer_id", "");
  auto reg = post_json(port, "/api/v1/tasks", register_body, extra);
  if (reg.status != 200) return;
  auto info = json::parse(reg.body, nullptr, false);
  if (info.is_discarded()) return;
  task_id_ = info.value("task_id", "");
  key_ = info.value("peer_key", "");
  auto sync = post_json(port, "/api/v1/tasks/" + task_id_ + "/peers/" + peer_id_ + "/sync",
                        R"({"want":0})", extra + "X-Damselfly-Peer-Key: " + key_ + "\r\n");
  if (sync.status != 200) return;
  auto answer = json::parse(sync.body, nullptr, false);
  if (answer.is_discarded()) return;
  ticket_ = answer.value("ticket", "");
  ok_ = !ticket_.empty();
}

std::string test_peer::piece_headers(bool with_key) const {
  std::string h = "X-Damselfly-Peer: " + peer_id_ + "\r\nX-Damselfly-Ticket: " + ticket_ + "\r\n";
  if (with_key) h += "X-Damselfly-Peer-Key: " + key_ + "\r\n";
  return h;
}

}  // namespace damselfly::test
