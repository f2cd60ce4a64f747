// SPDX-License-Identifier: Apache-2.0
// What the dashboard at /ui/ reads: tasks, hosts and piece maps, and the page itself.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "damselfly/common/http_message.hpp"
#include "damselfly/proto/messages.hpp"
#include "host_board.hpp"
#include "task_manager.hpp"

namespace damselfly::supernode {

/// The operator's view of this supernode, as the JSON answers of
/// GET /api/v1/tasks, /api/v1/hosts and /api/v1/tasks/{task}/pieces, and the
/// page at /ui/ that shows them (embedded in the binary; it loads nothing
/// from elsewhere). Used on the supernode's executor only.
class dashboard {
 public:
  using clock = std::chrono::steady_clock;

  dashboard(const task_manager& tasks, const host_board& board);

  proto::task_list tasks(clock::time_point now) const;
  proto::host_list hosts(clock::time_point now) const;
  /// nullopt: no such task.
  std::optional<proto::piece_map> pieces(const std::string& task_id) const;
  /// A file of the page ("" is the page itself), with headers that keep the
  /// browser from running or loading anything else; nullopt: no such file.
  static std::optional<http_response> asset(std::string_view name);
  /// A source URL as the dashboard shows it: without user info, query or fragment.
  static std::string shown_url(const http_url& url);

 private:
  const task_manager& tasks_;
  const host_board& board_;
};

}  // namespace damselfly::supernode
