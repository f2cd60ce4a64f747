// SPDX-License-Identifier: Apache-2.0
// Origin address policy scenarios: CIDRs, built-in denies, allow/deny order, the server itself.
#include <gtest/gtest.h>

#include "damselfly/common/address_policy.hpp"

using namespace damselfly;

namespace {

address_policy policy(std::vector<std::string> allow = {}, std::vector<std::string> deny = {}) {
  std::string bad;
  auto p = address_policy::make(allow, deny, &bad);
  EXPECT_TRUE(p) << bad;
  return *p;
}

bool allowed(const address_policy& p, std::string_view ip, std::string_view host = "origin",
             std::uint16_t port = 80) {
  return p.check(host, ip, port).empty();
}

}  // namespace

TEST(ip_network, parses_addresses_and_cidrs_of_both_families) {
  auto ten = ip_network::parse("10.0.0.0/8");
  ASSERT_TRUE(ten);
  EXPECT_TRUE(ten->contains(*ip_network::parse("10.200.3.4")));
  EXPECT_FALSE(ten->contains(*ip_network::parse("11.0.0.1")));
  // IPv4-mapped IPv6 is the same address.
  EXPECT_TRUE(ten->contains(*ip_network::parse("::ffff:10.1.2.3")));
  auto ula = ip_network::parse("fd00::/8");
  ASSERT_TRUE(ula);
  EXPECT_TRUE(ula->contains(*ip_network::parse("fd12::1")));
  EXPECT_FALSE(ula->contains(*ip_network::parse("fe80::1")));
  EXPECT_TRUE(ip_network::parse("[::1]"));
  EXPECT_FALSE(ip_network::parse("10.0.0.0/33"));
  EXPECT_FALSE(ip_network::parse("10.0.0.0/x"));
  EXPECT_FALSE(ip_network::parse("example.com"));
}

TEST(address_policy, metadata_and_link_local_addresses_are_refused_by_default) {
  auto p = policy();
  EXPECT_FALSE(allowed(p, "169.254.169.254"));
  EXPECT_FALSE(allowed(p, "169.254.1.1"));
  EXPECT_FALSE(allowed(p, "fe80::1"));
  EXPECT_FALSE(allowed(p, "100.100.100.200"));
  EXPECT_FALSE(allowed(p, "fd00:ec2::254"));
  EXPECT_FALSE(allowed(p, "::ffff:169.254.169.254"));
  EXPECT_FALSE(allowed(p, "0.0.0.0"));
  EXPECT_TRUE(allowed(p, "192.0.2.10"));
  EXPECT_TRUE(allowed(p, "127.0.0.1"));
}

TEST(address_policy, the_servers_own_listener_is_refused) {
  auto p = policy();
  p.deny_self({"127.0.0.0/8", "::1", "192.0.2.5"}, 8002);
  EXPECT_FALSE(allowed(p, "127.0.0.1", "localhost", 8002));
  EXPECT_FALSE(allowed(p, "192.0.2.5", "me", 8002));
  EXPECT_FALSE(allowed(p, "::1", "localhost", 8002));
  EXPECT_TRUE(allowed(p, "127.0.0.1", "localhost", 8080));  // another service on this host
  EXPECT_TRUE(allowed(p, "192.0.2.6", "other", 8002));
}

TEST(address_policy, explicit_deny_wins_and_allow_lists_restrict) {
  auto p = policy({"192.0.2.0/24", "mirror.example"}, {"192.0.2.99"});
  EXPECT_TRUE(allowed(p, "192.0.2.10"));
  EXPECT_FALSE(allowed(p, "192.0.2.99"));
  EXPECT_FALSE(allowed(p, "198.51.100.1"));
  EXPECT_TRUE(allowed(p, "198.51.100.1", "MIRROR.example"));  // host names compare without case
  auto q = policy({}, {"10.0.0.0/8", "internal.example"});
  EXPECT_FALSE(allowed(q, "10.1.1.1"));
  EXPECT_FALSE(allowed(q, "192.0.2.1", "internal.example"));
  EXPECT_TRUE(allowed(q, "192.0.2.1", "public.example"));
}

TEST(address_policy, an_explicit_allow_can_open_a_builtin_deny) {
  auto p = policy({"169.254.10.0/24"});
  EXPECT_TRUE(allowed(p, "169.254.10.5"));
  EXPECT_FALSE(allowed(p, "169.254.169.254"));
}

TEST(address_policy, malformed_entries_are_named) {
  std::string bad;
  EXPECT_FALSE(address_policy::make({"10.0.0.0/99"}, {}, &bad));
  EXPECT_EQ(bad, "10.0.0.0/99");
  EXPECT_FALSE(address_policy::make({}, {"1.2.3"}, &bad));
  EXPECT_EQ(bad, "1.2.3");
}
