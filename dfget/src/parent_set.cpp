// SPDX-License-Identifier: Apache-2.0
// Parents, their have streams, and local piece choice for the engine.
#include "parent_set.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "damselfly/common/piece_math.hpp"
#include "damselfly/proto/have_stream.hpp"
#include "damselfly/scheduler/piece_picker.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

/// More parents than the supernode would ever give are a lie (and as many
/// connections): the rest of a list past this is ignored.
constexpr std::size_t most_parents = 256;
/// Tries at a parent's have stream before it counts as gone: a parent given
/// at its registration may not have opened the task yet.
constexpr int stream_tries = 40;
/// Failed requests in a row after which a parent is asked nothing more.
constexpr unsigned failures_to_give_up = 5;
/// How long a parent that answered busy (every upload slot taken) is left
/// alone. (250 ms was measured worse, though while the parent graph was
/// still a band; doubling it after each busy answer in a row, up to 800 ms,
/// gained nothing: docs/benchmarks.md.)
constexpr std::chrono::milliseconds busy_rest{100};

}  // namespace

parent_set::parent_set(context ctx, std::uint64_t rng_seed)
    : ctx_(std::move(ctx)),
      picker_(std::make_unique<scheduler::piece_picker>(piece_count(ctx_.length, ctx_.piece_size),
                                                        scheduler::piece_picker::options{},
                                                        rng_seed)) {}

parent_set::~parent_set() = default;

void parent_set::add(const std::vector<std::string>& addrs, task_group& group) {
  const std::vector<bool> nothing;
  for (const auto& addr : addrs) {
    if (parents_.size() >= most_parents) break;
    auto hp = host_port::parse(addr);
    if (!hp || addr == ctx_.own_addr) continue;
    bool known = false;
    for (const auto& p : parents_) known = known || p.addr == addr;
    if (known) continue;
    auto index = picker_->add_parent(nothing);
    parents_.push_back({addr, *hp});
    group.spawn(follow(index));
  }
}

bool parent_set::usable(std::uint32_t index) const {
  const auto& p = parents_.at(index);
  return !p.dead && p.streaming && p.unvouched == 0 && steady::now() >= p.rest_until;
}

std::vector<proto::assignment> parent_set::pick(unsigned want) {
  std::vector<proto::assignment> out;
  for (const auto& pick : picker_->next(want, [this](std::uint32_t q) { return usable(q); })) {
    asked_[pick.piece] = pick.parent;
    auto range = piece_at(pick.piece, ctx_.length, ctx_.piece_size);
    out.push_back({pick.piece, range.offset, range.length, {}, parents_[pick.parent].addr});
  }
  return out;
}

void parent_set::fetching(std::uint64_t piece) {
  if (!picker_->has(piece) && !picker_->in_flight(piece)) picker_->fetching(piece);
}

void parent_set::ended(std::uint64_t piece, bool held, bool awaiting) {
  auto parent = scheduler::piece_picker::no_parent;
  if (auto it = asked_.find(piece); it != asked_.end()) {
    parent = it->second;
    asked_.erase(it);
  }
  if (!picker_->in_flight(piece)) return;  // a second copy: the first settled it
  if (held && parent != scheduler::piece_picker::no_parent) parents_[parent].failures = 0;
  picker_->done(piece, parent, held);
  if (!held && awaiting) {
    picker_->fetching(piece);
    if (parent != scheduler::piece_picker::no_parent && !unvouched_.contains(piece)) {
      unvouched_[piece] = parent;
      ++parents_[parent].unvouched;
    }
  }
}

void parent_set::verdict(std::uint64_t piece, bool held) {
  if (auto it = unvouched_.find(piece); it != unvouched_.end()) {
    --parents_[it->second].unvouched;
    unvouched_.erase(it);
    ctx_.on_news();  // it may take requests again
  }
  if (picker_->in_flight(piece)) picker_->done(piece, scheduler::piece_picker::no_parent, held);
}

void parent_set::failed(const std::string& source, proto::piece_status status, bool busy) {
  for (std::uint32_t q = 0; q < parents_.size(); ++q) {
    auto& p = parents_[q];
    if (p.addr != source) continue;
    if (busy) {
      p.rest_until = steady::now() + busy_rest;
      continue;
    }
    p.rest_until = steady::now() + std::chrono::milliseconds(250 * ++p.failures);
    if (status == proto::piece_status::bad_digest || p.failures >= failures_to_give_up)
      give_up(q, "it failed " + std::to_string(p.failures) + " time(s), last " +
                     std::string(proto::to_string(status)));
  }
}

void parent_set::give_up(std::uint32_t index, const std::string& why) {
  auto& p = parents_[index];
  if (p.dead) return;
  spdlog::info("parent {} is asked nothing more: {}", p.addr, why);
  p.dead = true;
  // What only it held is the supernode's to give now.
  picker_->drop_parent(index);
  ctx_.on_news();
}

std::size_t parent_set::gone() const {
  std::size_t n = 0;
  for (const auto& p : parents_) n += p.dead ? 1 : 0;
  return n;
}

bool parent_set::holds(std::string_view addr, std::uint64_t piece) const {
  for (std::uint32_t q = 0; q < parents_.size(); ++q)
    if (parents_[q].addr == addr) return picker_->parent_holds(q, piece);
  return false;
}

std::uint64_t parent_set::orphans() const {
  return picker_->orphans();
}

asio::awaitable<void> parent_set::follow(std::uint32_t index) {
  const auto count = piece_count(ctx_.length, ctx_.piece_size);
  asio::steady_timer pause(ctx_.ex);
  bool was_answered = false;  // the last try had the stream
  for (int attempt = 0; attempt < stream_tries && !parents_[index].dead; ++attempt) {
    // parents_ may grow (and move) while this waits: only indexes are kept.
    http_client client(ctx_.ex, parents_[index].hp.host, parents_[index].hp.port, ctx_.client);
    http_request get;
    get.target = "/haves/" + ctx_.task_id;
    ctx_.sign(get);
    // Who asks: the parent, if it follows this host too, leaves out of the
    // stream the pieces this host said it holds.
    if (!ctx_.own_addr.empty())
      get.headers.set(std::string(proto::upload_addr_header), ctx_.own_addr);
    proto::have_stream_reader reader(count);
    bool answered = false;
    const head_check streaming = [&answered, this, index](const response_head& h) {
      answered = h.status == 200;
      parents_[index].streaming = answered;
      return answered ? error_code{} : error_code(errc::protocol_error);
    };
    const body_sink news = [&, index](std::span<const std::byte> bytes) -> error_code {
      auto why =
          reader.feed(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                      [&](std::uint64_t piece) { picker_->parent_has(index, piece); });
      if (!why.empty()) {
        give_up(index, why);
        return errc::protocol_error;
      }
      ctx_.on_news();
      return {};
    };
    auto r = co_await client.request(get, streaming, news);
    parents_[index].streaming = false;
    if (answered && r) break;  // it ended the stream: it dropped the task, or stops
    // Answered before and not now: it is gone (killed: its pieces failed
    // as unreachable, again and again, until a child's tries ran out).
    if (!answered && was_answered) break;
    was_answered = answered;
    // Not answered: it may not have registered or opened the task yet.
    pause.expires_after(std::chrono::milliseconds(answered ? 1000 : 250));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  // Gone, or never there: what it holds is no longer to be had from it.
  give_up(index, "its have stream ended");
}

}  // namespace damselfly::dfget
