// SPDX-License-Identifier: Apache-2.0
// The daemons a supernode hears from: who they say they are, what they moved and how fast.
#include "host_board.hpp"

#include "damselfly/common/secret_file.hpp"

namespace damselfly::supernode {

void host_board::heard_from(const std::string& id, const std::string& upload_addr,
                            const std::string& idc, const std::string& location,
                            const std::string& address, clock::time_point now) {
  auto& h = hosts_[id];
  if (h.upload_addr != upload_addr) {
    // The address is this host's from now on, whoever held it before.
    if (auto old = by_addr_.find(h.upload_addr); old != by_addr_.end() && old->second == id)
      by_addr_.erase(old);
    if (!upload_addr.empty()) by_addr_[upload_addr] = id;
    h.upload_addr = upload_addr;
  }
  h.idc = idc;
  h.location = location;
  if (!address.empty()) h.address = address;
  h.last_seen = now;
}

std::optional<std::string> host_board::claim(const std::string& id, std::string_view presented,
                                             const std::function<std::string()>& fresh,
                                             clock::time_point now, clock::duration silence) {
  auto it = hosts_.find(id);
  if (it != hosts_.end() && !it->second.key.empty()) {
    if (same_secret(it->second.key, presented)) return it->second.key;
    if (now - it->second.last_seen <= silence) return std::nullopt;
  }
  auto& h = hosts_[id];
  h.key = fresh();
  h.last_seen = now;
  return h.key;
}

bool host_board::keyed(const std::string& id) const {
  auto it = hosts_.find(id);
  return it != hosts_.end() && !it->second.key.empty();
}

void host_board::seen(const std::string& id, clock::time_point now) {
  if (auto it = hosts_.find(id); it != hosts_.end()) it->second.last_seen = now;
}

void host_board::piece_moved(const std::string& peer, const std::string& source,
                             std::uint64_t bytes, clock::time_point now) {
  if (auto it = hosts_.find(peer); it != hosts_.end()) {
    it->second.downloaded += bytes;
    it->second.download_rate.add(bytes, now);
  }
  auto from = by_addr_.find(source);
  if (from == by_addr_.end()) return;
  auto& h = hosts_.at(from->second);
  h.uploaded += bytes;
  h.upload_rate.add(bytes, now);
}

void host_board::supernode_sent(std::uint64_t bytes, clock::time_point now) {
  supernode_uploaded_ += bytes;
  supernode_rate_.add(bytes, now);
}

void host_board::forget_before(clock::time_point cutoff) {
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (it->second.last_seen >= cutoff) {
      ++it;
      continue;
    }
    if (auto a = by_addr_.find(it->second.upload_addr);
        a != by_addr_.end() && a->second == it->first)
      by_addr_.erase(a);
    it = hosts_.erase(it);
  }
}

const host_board::host* host_board::find(const std::string& id) const {
  auto it = hosts_.find(id);
  return it == hosts_.end() ? nullptr : &it->second;
}

}  // namespace damselfly::supernode
