// SPDX-License-Identifier: Apache-2.0
// Preheat jobs: what a release pipeline asked to have brought where, and how far each got.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "damselfly/proto/messages.hpp"
#include "damselfly/supernode/config.hpp"
#include "host_board.hpp"
#include "task_manager.hpp"

namespace damselfly::supernode {

/// The jobs this supernode runs. A `supernode` job fills this supernode's
/// cache (the origin fetch every registration would start) and is done when
/// the task is. An `all_peers` job has the chosen daemons download the file
/// into their caches through the swarm: they learn of it in heartbeat
/// answers and report back in their heartbeats; it is done when every one
/// of them holds the file. Jobs are kept in `<data_dir>/jobs.json`,
/// rewritten on every change, so a restarted supernode resumes what was
/// pending or running. Used on the supernode's executor only.
class job_manager {
 public:
  /// `board`: the daemons heard from, which all-peers jobs choose among.
  job_manager(const supernode_config& cfg, task_manager& tasks, const host_board& board);

  /// Loads the jobs of a previous run; those not finished start again.
  error_code init();
  /// Checks `req` and starts the job (or queues it behind
  /// cfg.max_running_jobs); what is wrong with it otherwise.
  std::variant<proto::job_status, proto::error_info> create(proto::job_request req,
                                                            const std::string& client);
  std::optional<proto::job_status> get(const std::string& id) const;
  /// The newest jobs first, at most cfg.max_kept_jobs of them.
  proto::job_list list() const;
  /// Cancels a job that has not finished (nothing is undone: a cache already
  /// filling keeps its file). nullopt: no such job.
  std::optional<proto::job_status> cancel(const std::string& id);
  /// Follows running jobs' tasks and starts queued jobs; saves what changed.
  void tick();
  /// A daemon's heartbeat (already on the board): what it reports of its
  /// jobs. Answers the jobs it is to run (a host that appears during a running all-peers
  /// job it matches is added to it).
  std::vector<proto::job_order> heartbeat(const std::string& host,
                                          const proto::heartbeat_request& hb);

  /// Daemons starting the file at once, per job.
  static constexpr std::size_t max_hosts_starting = 32;

 private:
  using host_info = host_board::host;
  /// Whether `host` is one `req` asks for (ignoring the percentage).
  static bool matches(const proto::job_request& req, const std::string& host,
                      const host_info& info);
  /// The live daemons `req` chooses.
  std::vector<std::string> choose_hosts(const std::string& job_id,
                                        const proto::job_request& req) const;
  /// `host`'s part in all-peers job `j` at its heartbeat: joins it if it
  /// came late and matches, takes its report, starts it when there is room;
  /// the order to send while it runs. `moved`: a target changed.
  std::optional<proto::job_order> host_turn(proto::job_status& j, const std::string& host,
                                            const host_info& info,
                                            const proto::heartbeat_request& hb, bool& moved);
  /// Whether `host`'s report that it holds `j`'s file can be believed: it
  /// presents its peer key for the task and the swarm counts every piece
  /// with it. Until then a "done" report waits (the host repeats it).
  bool holds_file(const proto::job_status& j, const std::string& host,
                  const proto::heartbeat_request& hb) const;
  /// An all-peers job's state from its hosts'; true if anything changed.
  bool settle(proto::job_status& j);
  /// Starts `j` now: asks the task manager for its task (which starts the
  /// origin fetch when the file is not cached).
  void start(proto::job_status& j);
  /// What the task of `j` says of the job now; true if anything changed.
  bool follow(proto::job_status& j);
  void finish(proto::job_status& j, proto::job_state state);
  void save() const;
  std::size_t running() const;

  const supernode_config& cfg_;
  task_manager& tasks_;
  std::filesystem::path file_;
  std::vector<proto::job_status> jobs_;  ///< oldest first
  const host_board& board_;
};

}  // namespace damselfly::supernode
