// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the piece ticket check a daemon runs on every X-Damselfly-Ticket it is sent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "damselfly/common/ticket_signer.hpp"
#include "damselfly/common/ticket_verifier.hpp"

namespace {

const std::string task(64, 'a');
constexpr std::int64_t now = 1'800'000'000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const damselfly::ticket_signer signer("fuzz secret");
  static const auto verifier = damselfly::ticket_verifier::from_public_key(signer.public_key());
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // The peer id is the requester's too: the text after a newline, if any.
  auto nl = text.find('\n');
  auto ticket = text.substr(0, nl);
  auto peer = nl == std::string_view::npos ? std::string_view("p") : text.substr(nl + 1);
  auto verdict = verifier->check(ticket, task, peer, now);
  // Only the signer makes tickets that check: bytes the fuzzer made up never do.
  if (verdict == damselfly::ticket_check::ok && ticket != signer.issue(task, peer, now)) {
    auto dot = ticket.find('.');
    auto expires = std::stoll(std::string(ticket.substr(0, dot)));
    if (ticket != signer.issue(task, peer, expires)) __builtin_trap();
  }
  return 0;
}
