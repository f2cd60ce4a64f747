// SPDX-License-Identifier: Apache-2.0
// A supernode's task taken over from its owner's replica: when the owner's peers are back.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>

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
