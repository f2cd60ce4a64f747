// SPDX-License-Identifier: Apache-2.0
// address_policy: CIDR matching and the allow/deny rules for origin connections.
#include "damselfly/common/address_policy.hpp"

#include <arpa/inet.h>
#include <strings.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace damselfly {

namespace {

/// Link-local (where cloud metadata services live) and the metadata
/// addresses clouds use outside it.
constexpr std::string_view builtin_denied[] = {
    "169.254.0.0/16",   // IPv4 link-local, 169.254.169.254 metadata
    "fe80::/10",        // IPv6 link-local
    "100.100.100.200",  // Alibaba Cloud metadata
    "fd00:ec2::254",    // AWS metadata over IPv6
    "0.0.0.0/8",        // "this network": reaches the host itself on Linux
    "::/128",
};

bool equal_host(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<ip_network> ip_network::parse(std::string_view text) {
  auto slash = text.find('/');
  std::string addr(text.substr(0, slash));
  if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']')
    addr = addr.substr(1, addr.size() - 2);
  ip_network n;
  bool v4 = false;
  in_addr a4{};
  if (::inet_pton(AF_INET, addr.c_str(), &a4) == 1) {
    v4 = true;
    n.bytes[10] = n.bytes[11] = 0xff;
    std::memcpy(n.bytes.data() + 12, &a4, 4);
  } else if (::inet_pton(AF_INET6, addr.c_str(), n.bytes.data()) != 1) {
    return std::nullopt;
  }
  n.prefix = 128;
  if (slash != std::string_view::npos) {
    auto bits_text = text.substr(slash + 1);
    unsigned bits = 0;
    auto [end, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
    if (ec != std::errc() || end != bits_text.data() + bits_text.size() || bits > (v4 ? 32u : 128u))
      return std::nullopt;
    n.prefix = v4 ? 96 + bits : bits;
  }
  return n;
}

bool ip_network::contains(const ip_network& address) const {
  unsigned full = prefix / 8, rest = prefix % 8;
  if (!std::equal(bytes.begin(), bytes.begin() + full, address.bytes.begin())) return false;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (bytes[full] & mask) == (address.bytes[full] & mask);
}

result<address_policy> address_policy::make(const std::vector<std::string>& allow,
                                            const std::vector<std::string>& deny,
                                            std::string* bad) {
  address_policy p;
  auto add = [&](std::vector<entry>& list, const std::string& text) {
    if (text.empty()) return false;
    auto net = ip_network::parse(text);
    bool looks_like_address = text.find_first_of("/:") != std::string::npos ||
                              std::all_of(text.begin(), text.end(), [](char c) {
                                return (c >= '0' && c <= '9') || c == '.';
                              });
    if (!net && looks_like_address) return false;
    list.push_back(net ? entry{net, {}} : entry{std::nullopt, text});
    return true;
  };
  for (const auto& a : allow)
    if (!add(p.allow_, a)) {
      if (bad) *bad = a;
      return errc::invalid_argument;
    }
  for (const auto& d : deny)
    if (!add(p.deny_, d)) {
      if (bad) *bad = d;
      return errc::invalid_argument;
    }
  for (auto b : builtin_denied) add(p.builtin_deny_, std::string(b));
  return p;
}

void address_policy::deny_self(const std::vector<std::string>& addresses, std::uint16_t port) {
  self_port_ = port;
  for (const auto& a : addresses)
    if (auto n = ip_network::parse(a)) self_addresses_.push_back(*n);
}

bool address_policy::matches(const std::vector<entry>& list, std::string_view host,
                             const ip_network& address) {
  return std::any_of(list.begin(), list.end(), [&](const entry& e) {
    return e.network ? e.network->contains(address) : equal_host(e.host, host);
  });
}

std::string address_policy::check(std::string_view host, std::string_view ip,
                                  std::uint16_t port) const {
  auto address = ip_network::parse(ip);
  if (!address) return "not an IP address: " + std::string(ip);
  const std::string where = std::string(ip) + " (" + std::string(host) + ")";
  if (matches(deny_, host, *address)) return where + " is denied by --origin-deny";
  bool allowed = matches(allow_, host, *address);
  if (!allow_.empty() && !allowed) return where + " is not in --origin-allow";
  if (allowed) return {};
  if (matches(builtin_deny_, host, *address))
    return where + " is link-local or a cloud metadata address";
  if (port == self_port_ && std::any_of(self_addresses_.begin(), self_addresses_.end(),
                                        [&](const ip_network& n) { return n.contains(*address); }))
    return where + " is this server's own listener";
  return {};
}

}  // namespace damselfly
