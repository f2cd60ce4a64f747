// SPDX-License-Identifier: Apache-2.0
// What the dashboard at /ui/ reads: tasks, hosts and piece maps, and the page itself.
#include "dashboard.hpp"

#include <algorithm>

#include "ui_assets.hpp"

namespace damselfly::supernode {

namespace {

std::string_view phase_name(const task& t) {
  if (t.queued) return "queued";
  switch (t.phase) {
    case task_phase::probing:
      return "probing";
    case task_phase::fetching:
      return "fetching";
    case task_phase::validating:
      return "validating";
    case task_phase::done:
      return "done";
    case task_phase::failed:
      return "failed";
  }
  return "unknown";
}

}  // namespace

dashboard::dashboard(const task_manager& tasks, const host_board& board)
    : tasks_(tasks), board_(board) {}

std::string dashboard::shown_url(const http_url& url) {
  auto target = std::string_view(url.target);
  auto cut = target.find_first_of("?#");
  std::string out = url.scheme + "://" + url.authority() + std::string(target.substr(0, cut));
  if (cut != std::string_view::npos) out += "?…";
  return out;
}

proto::task_list dashboard::tasks(clock::time_point now) const {
  proto::task_list out;
  auto all = tasks_.all();
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a->last_used > b->last_used; });
  for (const auto& t : all) {
    proto::task_summary s;
    s.task = t->info();
    s.url = shown_url(t->url);
    s.phase = phase_name(*t);
    s.cached_pieces = t->ready_count;
    s.peers = static_cast<std::uint32_t>(t->swarm.peer_count());
    s.peer_copies = t->swarm.held_total();
    s.origin_bytes = t->origin_bytes;
    s.served_bytes = t->served_bytes;
    s.peer_bytes = t->peer_bytes;
    s.idle_s = std::chrono::duration_cast<std::chrono::seconds>(now - t->last_used).count();
    out.tasks.push_back(std::move(s));
  }
  return out;
}

proto::host_list dashboard::hosts(clock::time_point now) const {
  proto::host_list out;
  auto all = tasks_.all();
  for (const auto& [id, h] : board_.hosts()) {
    proto::host_summary s;
    s.host = id;
    s.upload_addr = h.upload_addr;
    s.address = h.address;
    s.idc = h.idc;
    s.location = h.location;
    s.tasks = static_cast<std::uint32_t>(std::count_if(
        all.begin(), all.end(), [&](const auto& t) { return t->swarm.has_peer(id); }));
    s.downloaded_bytes = h.downloaded;
    s.uploaded_bytes = h.uploaded;
    s.download_rate = h.download_rate.rate(now);
    s.upload_rate = h.upload_rate.rate(now);
    s.last_seen_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - h.last_seen).count();
    out.hosts.push_back(std::move(s));
  }
  out.supernode_uploaded_bytes = board_.supernode_uploaded();
  out.supernode_upload_rate = board_.supernode_rate(now);
  return out;
}

std::optional<proto::piece_map> dashboard::pieces(const std::string& task_id) const {
  auto t = tasks_.find(task_id);
  if (!t) return std::nullopt;
  proto::piece_map out;
  out.task_id = t->id;
  out.holders.reserve(t->ready.size());
  for (std::uint64_t i = 0; i < t->ready.size(); ++i)
    out.holders.push_back(static_cast<std::uint32_t>(t->swarm.availability(i)));
  out.cached = proto::encode_bitmap(t->ready);
  return out;
}

std::optional<http_response> dashboard::asset(std::string_view name) {
  if (name.empty()) name = "index.html";
  for (const auto& a : ui_assets()) {
    if (a.name != name) continue;
    http_response resp{200, {}, std::string(a.body), {}, {}};
    resp.headers.set("Content-Type", std::string(a.content_type));
    // The page runs its own script and talks to this server only; what the
    // data holds (URLs, host names) is never run, and no other site may
    // frame the page or learn where it was.
    resp.headers.set("Content-Security-Policy",
                     "default-src 'none'; script-src 'self'; style-src 'self'; "
                     "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
                     "frame-ancestors 'none'");
    resp.headers.set("X-Content-Type-Options", "nosniff");
    resp.headers.set("Referrer-Policy", "no-referrer");
    resp.headers.set("Cache-Control", "no-store");
    return resp;
  }
  return std::nullopt;
}

}  // namespace damselfly::supernode
