// SPDX-License-Identifier: Apache-2.0
// Host-name based peer ids.
#include "damselfly/common/host_identity.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <random>

namespace damselfly {

std::string random_host_token() {
  char host[64] = {};
  ::gethostname(host, sizeof host - 1);
  std::string name;
  for (char c : std::string(host))
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') name.push_back(c);
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-%08x", static_cast<unsigned>(rd()));
  return (name.empty() ? std::string("host") : name) + suffix;
}

}  // namespace damselfly
