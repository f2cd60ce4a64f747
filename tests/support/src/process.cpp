// SPDX-License-Identifier: Apache-2.0
// fork/exec process control for tests.
#include "damselfly/test_support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace damselfly::test {

using namespace std::chrono_literals;

process::process(std::vector<std::string> argv, std::filesystem::path log_file)
    : log_(std::move(log_file)) {
  int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open log " + log_.string());
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::setpgid(0, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
}

process::~process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(10s);
  }
}

std::optional<int> process::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (r < 0) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

void process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

void process::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (!wait(grace)) {
    signal(SIGKILL);
    wait(10s);
  }
}

bool process::running() {
  return pid_ > 0 && !wait(0ms).has_value();
}

std::string process::output() const {
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

run_result run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
               const std::filesystem::path& log_file) {
  std::filesystem::remove(log_file);
  process p(argv, log_file);
  run_result r;
  auto status = p.wait(timeout);
  if (!status) {
    p.signal(SIGKILL);
    p.wait(10s);
  }
  r.exit_code = status ? *status : -1;
  r.output = p.output();
  return r;
}

std::string wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    auto s = ss.str();
    if (!s.empty() && s.back() == '\n') return s;
    std::this_thread::sleep_for(20ms);
  }
  return {};
}

terminal_result run_on_terminal(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout) {
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  winsize size{};
  size.ws_row = 40;
  size.ws_col = 160;
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  terminal_result r;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    auto n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: the program's side of the terminal closed
    auto at = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    for (ssize_t i = 0; i < n; ++i)
      if (buf[i] == '\r' && (i + 1 >= n || buf[i + 1] != '\n')) r.redraws.push_back(at);
    r.output.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  pid_t reaped = 0;
  for (int i = 0; i < 100 && (reaped = ::waitpid(pid, &status, WNOHANG)) == 0; ++i)
    std::this_thread::sleep_for(50ms);
  if (reaped == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    r.exit_code = -1;
  } else {
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ::close(master);
  return r;
}

}  // namespace damselfly::test
