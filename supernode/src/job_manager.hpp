// SPDX-License-Identifier: Apache-2.0
// Preheat jobs: what a release pipeline asked to have brought where, and how far each got.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "damselfly/proto/messages.hpp"
#include "damselfly/supernode/config.hpp"
#include "task_manager.hpp"

namespace damselfly::supernode {

/// The jobs this supernode runs. A `supernode` job fills this supernode's
/// cache (the origin fetch every registration would start) and is done when
/// the task is. Jobs are kept in `<data_dir>/jobs.json`, rewritten on every
/// change, so a restarted supernode resumes what was pending or running.
/// Used on the supernode's executor only.
class job_manager {
 public:
  job_manager(const supernode_config& cfg, task_manager& tasks);

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

 private:
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
};

}  // namespace damselfly::supernode
