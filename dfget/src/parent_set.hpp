// SPDX-License-Identifier: Apache-2.0
// The engine's side of the parent-set protocol: its parents, what they hold, which piece next.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "damselfly/common/http_client.hpp"
#include "damselfly/common/http_message.hpp"
#include "damselfly/common/task_group.hpp"
#include "damselfly/proto/messages.hpp"

namespace damselfly::scheduler {
class piece_picker;
}

namespace damselfly::dfget {

/// The parents the supernode gave this peer, what each holds (from the have
/// stream it keeps open to each), and the choice of the next pieces among
/// them (scheduler::piece_picker: rarest among the parents first, from the
/// least-asked parent that takes a request). Lives on the engine's
/// executor; the streams run in the group given to add().
class parent_set {
 public:
  struct context {
    boost::asio::any_io_executor ex;
    http_client_options client;
    std::string task_id;
    std::uint64_t length = 0;      ///< the task's content length
    std::uint64_t piece_size = 0;  ///< and its piece size
    /// Adds what a request to a peer carries (peer id, ticket, token).
    std::function<void(http_request&)> sign;
    /// Told when a parent's news may make a new pick possible.
    std::function<void()> on_news;
    std::string own_addr;  ///< this peer's upload address: never its own parent
  };

  parent_set(context ctx, std::uint64_t rng_seed);
  ~parent_set();
  parent_set(const parent_set&) = delete;
  parent_set& operator=(const parent_set&) = delete;

  /// New parents from a sync answer; each one's have stream is followed in `group`.
  void add(const std::vector<std::string>& addrs, task_group& group);
  /// Up to `want` pieces to fetch now, each from a parent that holds it and
  /// takes a request: assignments without a digest (it comes signed with the piece).
  std::vector<proto::assignment> pick(unsigned want);
  /// A piece this peer fetches elsewhere (from the supernode).
  void fetching(std::uint64_t piece);
  /// A piece this peer holds already (resumed): no parent's to give.
  void held(std::uint64_t piece) {
    fetching(piece);
    ended(piece, true, false);
  }
  /// The fetch of `piece` ended: `held` when it is verified and kept,
  /// `awaiting` when it is written and waits for the supernode's verdict
  /// (it stays in flight until verdict()).
  void ended(std::uint64_t piece, bool held, bool awaiting);
  /// The supernode's verdict on a piece that was awaiting it (the parent
  /// that sent it takes requests again).
  void verdict(std::uint64_t piece, bool held);
  /// A request to `source` failed. A busy parent (every upload slot taken:
  /// its 503) rests a moment; one that fails again and again, or sent a bad
  /// piece, is asked nothing more.
  void failed(const std::string& source, proto::piece_status status, bool busy);
  /// Whether the parent at `addr` said it holds `piece` (its have stream):
  /// this host's own have stream to it need not tell it of that piece.
  bool holds(std::string_view addr, std::uint64_t piece) const;
  /// Pieces lacked, not in flight, held by no parent: the supernode's to give.
  std::uint64_t orphans() const;
  std::size_t size() const noexcept { return parents_.size(); }
  /// Parents given up (bad pieces, failures, their streams gone).
  std::size_t gone() const;

 private:
  struct parent {
    std::string addr;
    host_port hp;
    bool dead = false;  ///< sent a bad piece, or its stream cannot be had
    std::chrono::steady_clock::time_point rest_until{};  ///< after a busy answer
    /// Its have stream is open: while it is not (a parent killed or
    /// restarting), nothing is asked of it.
    bool streaming = false;
    unsigned failures = 0;  ///< in a row
    /// Its pieces that came unsigned and wait for the supernode's verdict:
    /// it is asked nothing more until they are judged (a parent sending
    /// unsigned garbage got a child's every request meanwhile).
    unsigned unvouched = 0;
  };
  boost::asio::awaitable<void> follow(std::uint32_t index);
  /// Asks `index` nothing more; its pieces leave the picker's count.
  void give_up(std::uint32_t index, const std::string& why);
  bool usable(std::uint32_t index) const;

  context ctx_;
  std::unique_ptr<scheduler::piece_picker> picker_;
  std::vector<parent> parents_;
  std::map<std::uint64_t, std::uint32_t> asked_;      ///< piece -> parent it was asked of
  std::map<std::uint64_t, std::uint32_t> unvouched_;  ///< piece awaiting a verdict -> its parent
};

}  // namespace damselfly::dfget
