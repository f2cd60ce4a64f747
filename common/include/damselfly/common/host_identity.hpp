// SPDX-License-Identifier: Apache-2.0
// Names for this host and its processes that are safe to use as peer ids.
#pragma once

#include <string>
#include <vector>

namespace damselfly {

/// The host name with anything but [A-Za-z0-9.-] dropped ("host" if nothing is left),
/// followed by "-" and 8 random hex digits: unique per call, readable in logs.
std::string random_host_token();

/// The IPv4 and IPv6 addresses of this host's interfaces, in the order the
/// kernel lists them.
struct interface_address {
  std::string ip;
  bool ipv4 = false;
  bool loopback = false;
};
std::vector<interface_address> interface_addresses();

/// The numeric addresses `host` resolves to (getaddrinfo, blocking; for
/// start-up); empty when it does not resolve.
std::vector<std::string> resolve_addresses(const std::string& host);

}  // namespace damselfly
