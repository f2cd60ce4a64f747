// SPDX-License-Identifier: Apache-2.0
// supernode_list: rendezvous order per task, sticky current supernode otherwise, failed ones last.
#include "damselfly/proto/supernode_list.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <stdexcept>

#include "damselfly/common/digest.hpp"

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

std::uint64_t rendezvous_score(std::string_view key, std::string_view node) {
  std::string text;
  text.reserve(key.size() + 1 + node.size());
  text.append(key).append("\n").append(node);
  auto hex = sha256_hex(text);
  std::uint64_t score = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    char c = hex[i];
    score = score << 4 | static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return score;
}

namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

std::vector<host_port> expand_supernodes(
    const std::vector<host_port>& listed,
    const std::function<std::vector<std::string>(const std::string& host)>& resolve) {
  std::vector<host_port> out;
  for (const auto& hp : listed) {
    auto addresses = is_ip_literal(hp.host) ? std::vector<std::string>{} : resolve(hp.host);
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    if (addresses.size() < 2) {
      out.push_back(hp);
      continue;
    }
    for (auto& ip : addresses) out.push_back({std::move(ip), hp.port});
  }
  return out;
}

supernode_list::supernode_list(std::vector<host_port> supernodes,
                               std::chrono::milliseconds retry_after)
    : retry_after_(retry_after) {
  for (auto& s : supernodes) nodes_.push_back({std::move(s), std::nullopt, retry_after_});
}

bool supernode_list::resting(std::size_t index, clock::time_point now) const {
  const auto& n = nodes_.at(index);
  return n.failed_at && now - *n.failed_at < n.rest;
}

std::vector<std::size_t> supernode_list::healthy_first(std::vector<std::size_t> ranked,
                                                       clock::time_point now) const {
  std::vector<std::size_t> healthy, tired;
  for (auto i : ranked) (resting(i, now) ? tired : healthy).push_back(i);
  std::stable_sort(tired.begin(), tired.end(), [&](std::size_t a, std::size_t b) {
    return *nodes_[a].failed_at < *nodes_[b].failed_at;
  });
  healthy.insert(healthy.end(), tired.begin(), tired.end());
  return healthy;
}

std::vector<std::size_t> supernode_list::order(clock::time_point now) const {
  std::vector<std::size_t> ranked;
  if (current_) ranked.push_back(*current_);
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (!current_ || i != *current_) ranked.push_back(i);
  return healthy_first(std::move(ranked), now);
}

std::vector<std::size_t> supernode_list::ranked_for(std::string_view key) const {
  std::vector<std::pair<std::uint64_t, std::size_t>> scored;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    scored.emplace_back(rendezvous_score(key, nodes_[i].where.to_string()), i);
  // Ties (vanishingly rare) go to the lower index, so every client still agrees.
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::size_t> ranked;
  for (const auto& [score, i] : scored) ranked.push_back(i);
  return ranked;
}

std::vector<std::size_t> supernode_list::order_for(std::string_view key,
                                                   clock::time_point now) const {
  return healthy_first(ranked_for(key), now);
}

std::size_t supernode_list::owner_of(std::string_view key) const {
  if (nodes_.empty()) throw std::logic_error("supernode_list::owner_of on an empty list");
  return ranked_for(key).front();
}

std::size_t supernode_list::first(clock::time_point now) const {
  if (nodes_.empty()) throw std::logic_error("supernode_list::first on an empty list");
  return order(now).front();
}

void supernode_list::succeeded(std::size_t index) {
  nodes_.at(index).failed_at.reset();
  current_ = index;
}

void supernode_list::failed(std::size_t index, clock::time_point now,
                            std::optional<std::chrono::milliseconds> rest) {
  nodes_.at(index).failed_at = now;
  nodes_.at(index).rest = rest.value_or(retry_after_);
  if (current_ == index) current_.reset();
}

void supernode_list::check_invariants() const {
  if (current_ && *current_ >= nodes_.size())
    throw std::logic_error("supernode_list: current supernode out of range");
  if (current_ && nodes_[*current_].failed_at)
    throw std::logic_error("supernode_list: the current supernode is marked failed");
}

}  // namespace damselfly::proto
