// SPDX-License-Identifier: Apache-2.0
// Launches a real program for a test, with bounded waits and certain cleanup.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace damselfly::test {

/// A child process whose stdout and stderr go to a log file. The destructor
/// kills it (SIGKILL) if it still runs, so no test leaves servers behind.
class process {
 public:
  process(std::vector<std::string> argv, std::filesystem::path log_file);
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  /// Waits up to `timeout` for the exit; its exit status (128+signal if killed), or nothing.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  /// Sends `sig` if the process still runs.
  void signal(int sig);
  /// SIGTERM, then SIGKILL if it has not gone after `grace`.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  bool running();
  /// Everything it printed so far.
  std::string output() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path log_;
};

/// Result of running a program to completion.
struct run_result {
  int exit_code = -1;  ///< -1: timed out and killed
  std::string output;  ///< stdout and stderr together
};

/// Runs argv to completion (killing it after `timeout`).
run_result run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
               const std::filesystem::path& log_file);

/// What a program printed on a terminal, and when it began each redraw.
struct terminal_result {
  int exit_code = -1;  ///< -1: timed out and killed
  std::string output;  ///< everything written to the terminal
  /// When each carriage return (a progress bar's redraw) arrived, from the start.
  std::vector<std::chrono::milliseconds> redraws;
};

/// Runs argv with stdout and stderr on a pseudo-terminal (killing it after `timeout`).
terminal_result run_on_terminal(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout);

/// Polls until `path` exists and is non-empty, at most `timeout`; its content or "".
std::string wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout);

}  // namespace damselfly::test
