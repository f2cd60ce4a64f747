// SPDX-License-Identifier: Apache-2.0
// supernode_list scenarios: order, failover, recovery, with a manual clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "damselfly/common/digest.hpp"
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

namespace {

std::vector<host_port> fleet(int n) {
  std::vector<host_port> out;
  for (int i = 1; i <= n; ++i)
    out.push_back({"10.0.0." + std::to_string(i), static_cast<std::uint16_t>(8002)});
  return out;
}

std::vector<std::string> task_ids(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(sha256_hex("task " + std::to_string(i)));
  return out;
}

/// The owner's address for each task id.
std::vector<std::string> owners(const supernode_list& l, const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  for (const auto& id : ids) out.push_back(l.at(l.owner_of(id)).to_string());
  return out;
}

void expect_balanced(int supernodes) {
  supernode_list l(fleet(supernodes));
  auto ids = task_ids(10'000);
  std::map<std::string, int> count;
  for (const auto& o : owners(l, ids)) ++count[o];
  ASSERT_EQ(count.size(), static_cast<std::size_t>(supernodes));
  const double fair = 10'000.0 / supernodes;
  for (const auto& [node, n] : count) {
    EXPECT_GE(n, fair * 0.85) << node << " owns too few of 10,000 tasks";
    EXPECT_LE(n, fair * 1.15) << node << " owns too many of 10,000 tasks";
  }
}

}  // namespace

TEST(supernode_list, the_score_is_sha256_of_task_and_address_so_any_client_can_compute_it) {
  // printf 'abc\n10.0.0.1:8002' | sha256sum: e5805226a700df01…, pinned so the formula never drifts.
  EXPECT_EQ(rendezvous_score("abc", "10.0.0.1:8002"), 0xe5805226a700df01ULL);
  EXPECT_NE(rendezvous_score("abc", "10.0.0.1:8002"), rendezvous_score("abd", "10.0.0.1:8002"));
}

TEST(supernode_list, every_client_agrees_on_the_owner_whatever_order_it_lists_the_supernodes_in) {
  auto forward = fleet(5);
  auto backward = forward;
  std::reverse(backward.begin(), backward.end());
  supernode_list a(forward), b(backward);
  auto ids = task_ids(500);
  EXPECT_EQ(owners(a, ids), owners(b, ids));
  // And again later: nothing but the ids and addresses goes into it.
  EXPECT_EQ(owners(supernode_list(forward), ids), owners(a, ids));
}

TEST(supernode_list, tasks_spread_within_15_percent_over_3_supernodes) {
  expect_balanced(3);
}

TEST(supernode_list, tasks_spread_within_15_percent_over_10_supernodes) {
  expect_balanced(10);
}

TEST(supernode_list, adding_a_supernode_moves_only_the_tasks_it_now_owns) {
  auto ids = task_ids(10'000);
  auto before = owners(supernode_list(fleet(3)), ids);
  auto after = owners(supernode_list(fleet(4)), ids);
  int moved = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    EXPECT_EQ(after[i], "10.0.0.4:8002") << "task " << i << " moved between old supernodes";
  }
  // About a quarter: what the newcomer wins, no more.
  EXPECT_GE(moved, 2500 * 0.85);
  EXPECT_LE(moved, 2500 * 1.15);
}

TEST(supernode_list, removing_a_supernode_moves_only_its_tasks_each_to_its_successor) {
  auto ids = task_ids(10'000);
  supernode_list four(fleet(4));
  auto before = owners(four, ids);
  auto after = owners(supernode_list(fleet(3)), ids);  // 10.0.0.4 gone
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (before[i] != "10.0.0.4:8002") {
      EXPECT_EQ(after[i], before[i]) << "task " << i << " moved though its owner stayed";
    } else {
      // The next in the task's own order takes it: what clients fail over to.
      auto successor = four.at(four.order_for(ids[i], t0)[1]).to_string();
      EXPECT_EQ(after[i], successor);
    }
  }
}

TEST(supernode_list, a_failed_owner_goes_last_for_its_tasks_and_the_successor_is_asked_first) {
  supernode_list l(fleet(3), 10s);
  auto id = sha256_hex("task 7");
  auto order = l.order_for(id, t0);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order.front(), l.owner_of(id));
  l.failed(order[0], t0);
  EXPECT_EQ(l.order_for(id, t0 + 1s), (std::vector<std::size_t>{order[1], order[2], order[0]}));
  EXPECT_EQ(l.owner_of(id), order[0]) << "ownership itself does not move with a failure";
  // Rested long enough, the owner is first again.
  EXPECT_EQ(l.order_for(id, t0 + 11s), order);
  l.check_invariants();
}

TEST(supernode_list, a_failure_may_rest_a_supernode_shorter_than_the_default) {
  // a refused the connection (restarting): 2 s; b timed out: the full 10 s.
  auto l = abc();
  l.failed(0, t0, 2s);
  l.failed(1, t0);
  EXPECT_EQ(order_at(l, t0 + 1s), (std::vector<std::size_t>{2, 0, 1}));
  EXPECT_EQ(order_at(l, t0 + 3s), (std::vector<std::size_t>{0, 2, 1}));
  EXPECT_EQ(order_at(l, t0 + 11s), (std::vector<std::size_t>{0, 1, 2}));
}

TEST(supernode_list, a_name_with_several_addresses_counts_as_that_many_supernodes) {
  std::map<std::string, std::vector<std::string>> dns = {
      {"fleet.example", {"10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.1"}},
      {"one.example", {"10.0.1.1"}},
      {"gone.example", {}}};
  auto resolve = [&](const std::string& host) { return dns[host]; };
  auto got = expand_supernodes(
      {{"fleet.example", 8002}, {"one.example", 8002}, {"gone.example", 8002}, {"10.9.9.9", 8002}},
      resolve);
  std::vector<std::string> names;
  for (const auto& hp : got) names.push_back(hp.to_string());
  // Sorted and deduplicated, so every node that resolves alike hashes alike;
  // a single address or none keeps the name (resolved when connecting).
  EXPECT_EQ(names,
            (std::vector<std::string>{"10.0.0.1:8002", "10.0.0.2:8002", "10.0.0.3:8002",
                                      "one.example:8002", "gone.example:8002", "10.9.9.9:8002"}));
  bool asked_for_a_literal = false;
  expand_supernodes({{"10.9.9.9", 1}, {"::1", 2}}, [&](const std::string&) {
    asked_for_a_literal = true;
    return std::vector<std::string>{};
  });
  EXPECT_FALSE(asked_for_a_literal);
}
