// SPDX-License-Identifier: Apache-2.0
// Host-name based peer ids.
#include "damselfly/common/host_identity.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
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

std::vector<interface_address> interface_addresses() {
  std::vector<interface_address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr) continue;
    int family = a->ifa_addr->sa_family;
    const void* src = nullptr;
    if (family == AF_INET)
      src = &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr;
    else if (family == AF_INET6)
      src = &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr;
    char buf[INET6_ADDRSTRLEN];
    if (src && ::inet_ntop(family, src, buf, sizeof buf))
      out.push_back({buf, family == AF_INET, (a->ifa_flags & IFF_LOOPBACK) != 0});
  }
  ::freeifaddrs(list);
  return out;
}

std::vector<std::string> resolve_addresses(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::vector<std::string> out;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return out;
  for (auto* a = found; a; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
        ::inet_ntop(a->ai_family, raw, text, sizeof text))
      out.emplace_back(text);
  }
  ::freeaddrinfo(found);
  return out;
}

}  // namespace damselfly
