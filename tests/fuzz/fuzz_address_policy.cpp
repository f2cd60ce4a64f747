// SPDX-License-Identifier: Apache-2.0
// Fuzz target: origin policy entries and addresses (flags and DNS answers).
#include <cstddef>
#include <cstdint>
#include <string>

#include "damselfly/common/address_policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto nl = text.find('\n');
  std::string entry = text.substr(0, nl);
  std::string ip = nl == std::string::npos ? "127.0.0.1" : text.substr(nl + 1);
  (void)damselfly::ip_network::parse(entry);
  auto p = damselfly::address_policy::make({entry}, {entry + "x"}, nullptr);
  if (p) {
    p->deny_self({entry}, 8002);
    (void)p->check("host", ip, 8002);
  }
  return 0;
}
