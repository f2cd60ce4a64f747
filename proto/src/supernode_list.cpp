// SPDX-License-Identifier: Apache-2.0
// supernode_list: sticky current supernode, recently failed ones last.
#include "damselfly/proto/supernode_list.hpp"

#include <algorithm>
#include <stdexcept>

namespace damselfly::proto {

std::optional<host_port> parse_supernode_address(std::string_view text, bool& https) {
  https = false;
  if (text.starts_with("https://")) {
    https = true;
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    text.remove_prefix(7);
  }
  if (text.ends_with("/")) text.remove_suffix(1);
  auto hp = host_port::parse(text);
  if (!hp || hp->port == 0) return std::nullopt;
  return hp;
}

supernode_list::supernode_list(std::vector<host_port> supernodes,
                               std::chrono::milliseconds retry_after)
    : retry_after_(retry_after) {
  for (auto& s : supernodes) nodes_.push_back({std::move(s), std::nullopt});
}

std::vector<std::size_t> supernode_list::order(clock::time_point now) const {
  std::vector<std::size_t> healthy, resting;
  auto is_resting = [&](std::size_t i) {
    const auto& f = nodes_[i].failed_at;
    return f && now - *f < retry_after_;
  };
  if (current_ && !is_resting(*current_)) healthy.push_back(*current_);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (current_ && i == *current_ && !is_resting(i)) continue;
    (is_resting(i) ? resting : healthy).push_back(i);
  }
  std::stable_sort(resting.begin(), resting.end(), [&](std::size_t a, std::size_t b) {
    return *nodes_[a].failed_at < *nodes_[b].failed_at;
  });
  healthy.insert(healthy.end(), resting.begin(), resting.end());
  return healthy;
}

std::size_t supernode_list::first(clock::time_point now) const {
  if (nodes_.empty()) throw std::logic_error("supernode_list::first on an empty list");
  return order(now).front();
}

void supernode_list::succeeded(std::size_t index) {
  nodes_.at(index).failed_at.reset();
  current_ = index;
}

void supernode_list::failed(std::size_t index, clock::time_point now) {
  nodes_.at(index).failed_at = now;
  if (current_ == index) current_.reset();
}

void supernode_list::check_invariants() const {
  if (current_ && *current_ >= nodes_.size())
    throw std::logic_error("supernode_list: current supernode out of range");
  if (current_ && nodes_[*current_].failed_at)
    throw std::logic_error("supernode_list: the current supernode is marked failed");
}

}  // namespace damselfly::proto
