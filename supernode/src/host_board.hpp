// SPDX-License-Identifier: Apache-2.0
// The daemons a supernode hears from: who they say they are, what they moved and how fast.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "damselfly/common/rate_meter.hpp"

namespace damselfly::supernode {

/// Hosts as heartbeats and registrations describe them, with the piece bytes
/// their peers' reports say they moved. Reports are a peer's word: the
/// figures are for watching a swarm, never for deciding anything about a
/// host. Used on the supernode's executor only.
class host_board {
 public:
  using clock = std::chrono::steady_clock;

  struct host {
    std::string upload_addr;
    std::string idc;
    std::string location;
    std::string address;  ///< where its requests come from
    std::string key;      ///< given at its first heartbeat; empty: it never sent one
    clock::time_point last_seen{};
    std::uint64_t downloaded = 0;  ///< piece bytes it reported fetched
    std::uint64_t uploaded = 0;    ///< piece bytes others reported fetched from it
    rate_meter download_rate;
    rate_meter upload_rate;
  };

  /// Whether a heartbeat presenting `presented` speaks for `id`: the key
  /// the host is to present from now on, or nullopt while another holder
  /// of it is alive (heard within `silence`). A host never seen, or silent
  /// that long, is given `fresh` (a restarted host that lost its key waits
  /// out its own silence). `fresh` makes a key; it is called only then.
  std::optional<std::string> claim(const std::string& id, std::string_view presented,
                                   const std::function<std::string()>& fresh, clock::time_point now,
                                   clock::duration silence);
  /// Whether `id` heartbeats with a key: only those heartbeats describe it.
  bool keyed(const std::string& id) const;
  /// A heartbeat or a registration of `id`: what it says of itself now.
  void heard_from(const std::string& id, const std::string& upload_addr, const std::string& idc,
                  const std::string& location, const std::string& address, clock::time_point now);
  /// Any other request of `id` (a sync): alive, nothing new said.
  void seen(const std::string& id, clock::time_point now);
  /// `peer` reported a piece of `bytes` fetched from `source` (an upload
  /// address, or the supernode's name: its bytes are counted as it sends them).
  void piece_moved(const std::string& peer, const std::string& source, std::uint64_t bytes,
                   clock::time_point now);
  /// The supernode sent `bytes` of pieces.
  void supernode_sent(std::uint64_t bytes, clock::time_point now);
  /// Forgets hosts not heard from since `cutoff`.
  void forget_before(clock::time_point cutoff);

  const std::map<std::string, host>& hosts() const noexcept { return hosts_; }
  const host* find(const std::string& id) const;
  std::uint64_t supernode_uploaded() const noexcept { return supernode_uploaded_; }
  std::uint64_t supernode_rate(clock::time_point now) const { return supernode_rate_.rate(now); }

 private:
  std::map<std::string, host> hosts_;
  std::unordered_map<std::string, std::string> by_addr_;  ///< upload address -> host id
  std::uint64_t supernode_uploaded_ = 0;
  rate_meter supernode_rate_;
};

}  // namespace damselfly::supernode
