// SPDX-License-Identifier: Apache-2.0
// Lock-serialized, double-forked start of an on-demand dfget daemon.
#include "damselfly/dfget/daemon_launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "damselfly/common/file_io.hpp"
#include "damselfly/common/unique_fd.hpp"

namespace damselfly::dfget {

namespace fs = std::filesystem;

namespace {

bool answers(const fs::path& socket_path) {
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto p = socket_path.string();
  if (!fd || p.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

/// fork twice so the daemon is reparented to init and never becomes our
/// zombie; `daemon_pid` gets the daemon's pid (to notice it dying at start).
error_code spawn_detached(const std::vector<std::string>& argv, pid_t& daemon_pid) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return last_system_error();
  pid_t child = ::fork();
  if (child < 0) {
    auto ec = last_system_error();
    ::close(report[0]);
    ::close(report[1]);
    return ec;
  }
  if (child == 0) {
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) {
      (void)!::write(report[1], &grandchild, sizeof grandchild);
      ::_exit(0);
    }
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, STDIN_FILENO);
      ::dup2(devnull, STDOUT_FILENO);
      ::dup2(devnull, STDERR_FILENO);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(report[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  daemon_pid = -1;
  if (::read(report[0], &daemon_pid, sizeof daemon_pid) != sizeof daemon_pid) daemon_pid = -1;
  ::close(report[0]);
  return {};
}

}  // namespace

fs::path default_daemon_socket() {
  if (::geteuid() == 0) return "/run/damselfly/dfget.sock";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg && *xdg) return fs::path(xdg) / "damselfly" / "dfget.sock";
  return fs::path("/tmp") / ("damselfly-" + std::to_string(::geteuid())) / "dfget.sock";
}

fs::path default_daemon_data_dir() {
  if (::geteuid() == 0) return "/var/lib/damselfly/dfget";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "damselfly" / "dfget";
}

error_code ensure_daemon(const daemon_launch& l, std::chrono::milliseconds wait) {
  if (answers(l.socket)) return {};
  std::error_code fec;
  if (::geteuid() != 0) {
    if (auto failed = make_private_dir(l.socket.parent_path())) return failed;
  } else {
    fs::create_directories(l.socket.parent_path(), fec);
  }
  if (auto failed = make_private_dir(l.data_dir, nullptr, /*follow_symlink=*/true)) return failed;
  auto lock_path = l.socket.string() + ".lock";
  unique_fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) return last_system_error();
  // Whoever holds the lock is starting a daemon; the others wait, then find it.
  if (::flock(lock.get(), LOCK_EX) != 0) return last_system_error();
  if (answers(l.socket)) return {};
  std::string nodes;
  for (const auto& s : l.supernodes) nodes += (nodes.empty() ? "" : ",") + s;
  std::vector<std::string> argv{l.executable.string(),
                                "daemon",
                                "--socket",
                                l.socket.string(),
                                "--data-dir",
                                l.data_dir.string(),
                                "--listen",
                                l.listen,
                                "--supernode",
                                nodes,
                                "--idle-exit",
                                std::to_string(l.idle_exit_seconds),
                                "--total-limit",
                                l.total_limit,
                                "--log-file",
                                (l.data_dir / "daemon.log").string()};
  for (const auto& [flag, file] :
       {std::pair{"--token-file", &l.token_file}, std::pair{"--cluster-ca", &l.cluster_ca},
        std::pair{"--tls-client-cert", &l.client_cert},
        std::pair{"--tls-client-key", &l.client_key}}) {
    if (file->empty()) continue;
    argv.push_back(flag);
    argv.push_back(file->string());
  }
  pid_t daemon_pid = -1;
  if (auto ec = spawn_detached(argv, daemon_pid)) return ec;
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (answers(l.socket)) return {};
    // A daemon that could not start (its port taken, say) is not waited for.
    if (daemon_pid > 0 && ::kill(daemon_pid, 0) != 0 && errno == ESRCH)
      return error_code(ECHILD, boost::system::system_category());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return errc::timeout;
}

}  // namespace damselfly::dfget
