// SPDX-License-Identifier: Apache-2.0
// A supernode's task: taken over from its owner's replica; who its changes wake.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "damselfly/proto/messages.hpp"
#include "task.hpp"

using namespace damselfly;
using namespace damselfly::supernode;

namespace {

class task_takeover : public ::testing::Test {
 protected:
  /// A 16-piece task adopted from an owner whose last replica counted
  /// `peers` peers holding `held` pieces among them.
  std::unique_ptr<task> taken_over(std::uint64_t held, std::uint64_t peers) {
    auto url = http_url::parse("http://origin.invalid/file");
    EXPECT_TRUE(url);
    auto t = std::make_unique<task>(io_.get_executor(), std::string(64, 'a'),
                                    proto::register_request{}, *url, scheduler::swarm_options{});
    proto::task_replica r;
    r.task_id = t->id;
    r.content_length = 16 * 4096;
    r.piece_size = 4096;
    r.version = "v";
    r.held = held;
    r.peers = peers;
    t->adopt(r);
    return t;
  }
  /// Peer `name` registers holding the first `n` pieces.
  static void back(task& t, const std::string& name, std::size_t n) {
    std::vector<bool> b(16, false);
    for (std::size_t i = 0; i < n; ++i) b[i] = true;
    t.swarm.join(name, {name + ":1", "", "", 4, ""}, b, {});
  }
  boost::asio::io_context io_;
};

}  // namespace

TEST_F(task_takeover, TheOwnersPeersAreGatheredOnlyWhenAsManyAreBackHoldingAsMuch) {
  // The owner's last replica: 3 peers, 12 pieces held among them. A and B
  // register here first holding 8 each (16 > 12): not yet, C is still on
  // its way and may hold pieces nobody here has. C comes: gathered.
  auto t = taken_over(12, 3);
  EXPECT_FALSE(t->replica_gathered());
  back(*t, "A", 8);
  back(*t, "B", 8);
  EXPECT_FALSE(t->replica_gathered()) << "the pieces are counted, the third peer is not back";
  back(*t, "C", 2);
  EXPECT_TRUE(t->replica_gathered());
}

TEST_F(task_takeover, AsManyPeersHoldingLessThanTheOwnerCountedAreNotGathered) {
  auto t = taken_over(12, 2);
  back(*t, "A", 3);
  back(*t, "B", 3);
  EXPECT_FALSE(t->replica_gathered());
  back(*t, "C", 6);
  EXPECT_TRUE(t->replica_gathered());
}

namespace {

/// Held syncs of one task, as the API holds them: each waits once, long,
/// and records when it woke.
class task_waiters : public ::testing::Test {
 protected:
  task_waiters() {
    auto url = http_url::parse("http://origin.invalid/file");
    EXPECT_TRUE(url);
    t_ = std::make_unique<task>(io_.get_executor(), std::string(64, 'b'), proto::register_request{},
                                *url, scheduler::swarm_options{});
    t_->set_layout(8 * 4096, 4096);
  }
  /// Starts a held ask for a piece to inject (`seed`) or a central sync.
  void hold(bool seed, int name) {
    boost::asio::co_spawn(
        io_,
        [this, seed, name]() -> boost::asio::awaitable<void> {
          if (seed)
            co_await t_->wait_for_seed(std::chrono::hours(1));
          else
            co_await t_->wait_for_change(std::chrono::hours(1));
          woke_.push_back(name);
        },
        boost::asio::detached);
    io_.poll();
  }
  /// Who woke so far, in no particular order.
  std::vector<int> woken() const {
    auto w = woke_;
    std::sort(w.begin(), w.end());
    return w;
  }
  boost::asio::io_context io_;
  std::unique_ptr<task> t_;
  std::vector<int> woke_;
};

}  // namespace

TEST_F(task_waiters, APieceCachedWakesTheLongestHeldAskAndEveryCentralSync) {
  hold(true, 1);
  hold(true, 2);
  hold(true, 3);
  hold(false, 10);
  hold(false, 11);
  t_->piece_ready(0, std::string(64, 'c'));
  io_.poll();
  // One piece is injected once: one held ask looks, not three.
  EXPECT_EQ(woken(), (std::vector<int>{1, 10, 11}));
  t_->notify_seed();  // the ask that got it passes on what is left
  io_.poll();
  EXPECT_EQ(woken(), (std::vector<int>{1, 2, 10, 11}));
}

TEST_F(task_waiters, AReportWakesCentralSyncsNotAsksHeldForTheSupernodesPieces) {
  hold(true, 1);
  hold(false, 10);
  t_->notify_central();
  io_.poll();
  EXPECT_EQ(woken(), (std::vector<int>{10}));
  // A change of the task's state wakes everyone.
  hold(false, 11);
  t_->notify();
  io_.poll();
  EXPECT_EQ(woken(), (std::vector<int>{1, 10, 11}));
}

TEST(task_expiry, AnInjectionLostToASilentPeerWakesTheLongestHeldAskForItsPiece) {
  boost::asio::io_context io;
  auto url = http_url::parse("http://origin.invalid/file");
  ASSERT_TRUE(url);
  scheduler::swarm_options opts;
  opts.seed_slots = 1;
  task t(io.get_executor(), std::string(64, 'b'), proto::register_request{}, *url, opts);
  t.set_layout(8 * 4096, 4096);
  auto now = task::clock::now();
  t.swarm.join("A", {"a:1", "", "", 4, ""}, {}, now);
  t.swarm.join("B", {"b:1", "", "", 4, ""}, {}, now);
  t.piece_ready(0, std::string(64, 'c'));
  // A is given piece 0, the only one cached, in the only seed slot...
  ASSERT_EQ(t.swarm.inject("A", 1, now).size(), 1u);
  ASSERT_TRUE(t.swarm.inject("B", 1, now).empty());
  // ...and B's ask is held for the next piece to inject.
  bool woken = false;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        co_await t.wait_for_seed(std::chrono::hours(1));
        woken = true;
      },
      boost::asio::detached);
  io.poll();
  ASSERT_FALSE(woken);
  // A never fetches it; B keeps syncing. Past the assignment timeout the
  // piece is A's no more: B's held ask is woken, and gets it.
  auto later = now + opts.assignment_timeout + std::chrono::seconds(1);
  t.swarm.touch("A", later);
  t.swarm.touch("B", later);
  t.expire(later);
  io.poll();
  EXPECT_TRUE(woken);
  auto got = t.swarm.inject("B", 1, later);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].piece, 0u);
}
