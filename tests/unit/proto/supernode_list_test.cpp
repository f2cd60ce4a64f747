// SPDX-License-Identifier: Apache-2.0
// supernode_list scenarios: order, failover, recovery, with a manual clock.
#include <gtest/gtest.h>

#include "damselfly/proto/supernode_list.hpp"

using namespace damselfly;
using namespace damselfly::proto;
using namespace std::chrono_literals;

namespace {

supernode_list abc() {
  return supernode_list({{"a", 1}, {"b", 2}, {"c", 3}}, 10s);
}

std::vector<std::size_t> order_at(const supernode_list& l, supernode_list::clock::time_point t) {
  l.check_invariants();
  return l.order(t);
}

const auto t0 = supernode_list::clock::time_point{} + 1h;

}  // namespace

TEST(supernode_list, fresh_list_is_tried_in_the_configured_order) {
  auto l = abc();
  EXPECT_EQ(order_at(l, t0), (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(l.first(t0), 0u);
  EXPECT_FALSE(l.current());
}

TEST(supernode_list, the_one_that_answered_is_asked_first_then_the_rest_in_order) {
  auto l = abc();
  l.succeeded(2);
  EXPECT_EQ(order_at(l, t0), (std::vector<std::size_t>{2, 0, 1}));
  EXPECT_EQ(l.current(), 2u);
}

TEST(supernode_list, a_failed_supernode_goes_last_and_the_next_takes_over) {
  // a answers, then dies: b is next, and a is tried only after b and c.
  auto l = abc();
  l.succeeded(0);
  l.failed(0, t0);
  EXPECT_FALSE(l.current());
  EXPECT_EQ(order_at(l, t0 + 1s), (std::vector<std::size_t>{1, 2, 0}));
  l.succeeded(1);
  EXPECT_EQ(order_at(l, t0 + 2s), (std::vector<std::size_t>{1, 2, 0}));
}

TEST(supernode_list, a_failed_supernode_recovers_its_place_after_retry_after) {
  auto l = abc();
  l.failed(0, t0);
  EXPECT_EQ(order_at(l, t0 + 9s), (std::vector<std::size_t>{1, 2, 0}));
  EXPECT_EQ(order_at(l, t0 + 10s), (std::vector<std::size_t>{0, 1, 2}));
}

TEST(supernode_list, all_failed_are_still_all_tried_oldest_failure_first) {
  auto l = abc();
  l.failed(1, t0);
  l.failed(2, t0 + 1s);
  l.failed(0, t0 + 2s);
  EXPECT_EQ(order_at(l, t0 + 3s), (std::vector<std::size_t>{1, 2, 0}));
  // Success clears the failure at once.
  l.succeeded(0);
  EXPECT_EQ(order_at(l, t0 + 3s), (std::vector<std::size_t>{0, 1, 2}));
}

TEST(supernode_list, round_robin_on_repeated_failures_visits_every_supernode) {
  // The daemon's heartbeat asks order().front() each time and reports failure.
  auto l = abc();
  std::vector<std::size_t> visited;
  auto now = t0;
  for (int i = 0; i < 3; ++i) {
    auto pick = l.first(now);
    visited.push_back(pick);
    l.failed(pick, now);
    now += 1s;
  }
  EXPECT_EQ(visited, (std::vector<std::size_t>{0, 1, 2}));
}

TEST(supernode_list, empty_list_has_no_first) {
  supernode_list l({});
  EXPECT_TRUE(l.empty());
  EXPECT_TRUE(l.order(t0).empty());
  EXPECT_THROW(l.first(t0), std::logic_error);
}
