// SPDX-License-Identifier: Apache-2.0
// Which resolved addresses a server may connect to for a URL: allow/deny lists, no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "damselfly/common/error.hpp"

namespace damselfly {

/// An IPv4 or IPv6 network: "10.0.0.0/8", "fe80::/10", or one address.
struct ip_network {
  std::array<std::uint8_t, 16> bytes{};  ///< IPv4 as IPv4-mapped IPv6
  unsigned prefix = 128;                 ///< in IPv6 bits (an IPv4 /8 is /104)

  static std::optional<ip_network> parse(std::string_view text);
  bool contains(const ip_network& address) const;
};

/// Decides, after DNS resolution, whether the origin at `ip`:`port` (named
/// `host` in the URL) may be fetched: a server that fetches any URL it is
/// given must not become a way into internal services (SSRF). The answer is
/// checked for every address actually connected to, so a name that later
/// resolves elsewhere (DNS rebinding) gains nothing.
///
/// Rules, in order: an explicit deny entry refuses; with allow entries,
/// anything matching none of them is refused; the built-in denies
/// (link-local and cloud metadata addresses, the server's own listeners)
/// refuse unless an explicit allow entry matches. Entries are CIDRs,
/// addresses, or host names (compared with the URL's host).
class address_policy {
 public:
  /// Fails with errc::invalid_argument naming nothing: `bad` gets the entry.
  static result<address_policy> make(const std::vector<std::string>& allow,
                                     const std::vector<std::string>& deny, std::string* bad);
  /// The server's own listener: refused on these addresses and this port.
  void deny_self(const std::vector<std::string>& addresses, std::uint16_t port);

  /// Why the connection is refused; empty when it is allowed.
  std::string check(std::string_view host, std::string_view ip, std::uint16_t port) const;

 private:
  struct entry {
    std::optional<ip_network> network;
    std::string host;  ///< when not a network
  };
  static bool matches(const std::vector<entry>& list, std::string_view host,
                      const ip_network& address);

  std::vector<entry> allow_, deny_, builtin_deny_;
  std::vector<ip_network> self_addresses_;
  std::uint16_t self_port_ = 0;
};

}  // namespace damselfly
