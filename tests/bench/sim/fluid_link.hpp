// SPDX-License-Identifier: Apache-2.0
// An upload link shared equally by the transfers on it, in virtual time.
#pragma once

#include <cstdint>
#include <limits>
#include <set>
#include <unordered_map>
#include <utility>

namespace damselfly::sim {

/// Processor sharing: `rate` bytes/s divided equally among the active
/// transfers (as TCP flows from one capped uplink share it). Kept as the
/// service each transfer has received so far, a single number `v_` that
/// grows at rate/n: a transfer of S bytes started at v0 ends when v_ reaches
/// v0 + S, so starts, ends and cancels cost O(log n) whatever n is.
class fluid_link {
 public:
  using id = std::uint64_t;
  static constexpr double never = std::numeric_limits<double>::infinity();

  explicit fluid_link(double rate_bytes_per_s) : rate_(rate_bytes_per_s) {}

  /// Starts a transfer of `bytes` at time `now` (seconds).
  id start(double bytes, double now);
  /// Drops a transfer that has not ended (its source or receiver died).
  void cancel(id transfer, double now);
  /// When the next transfer ends if nothing starts or stops before; never when idle.
  double next_end() const;
  /// Ends the transfer due at next_end() (`now` must be that time).
  id pop_ended(double now);
  std::size_t active() const noexcept { return finish_.size(); }
  double rate() const noexcept { return rate_; }
  /// Bumped whenever next_end() may have moved (for lazy event queues).
  std::uint64_t version() const noexcept { return version_; }

 private:
  void advance(double now);

  double rate_;
  double t_ = 0;                            ///< time v_ was last brought up to date
  double v_ = 0;                            ///< service per active transfer since the start
  std::set<std::pair<double, id>> finish_;  ///< (v at which it ends, transfer)
  std::unordered_map<id, double> ends_at_;
  id next_id_ = 1;
  std::uint64_t version_ = 0;
};

}  // namespace damselfly::sim
