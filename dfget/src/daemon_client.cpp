// SPDX-License-Identifier: Apache-2.0
// Blocking unix-socket client for the daemon's line protocol.
#include "damselfly/dfget/daemon_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "damselfly/common/fd_passing.hpp"
#include "damselfly/common/file_io.hpp"
#include "damselfly/common/unique_fd.hpp"

namespace damselfly::dfget {

result<proto::local_event> run_via_daemon(
    const std::filesystem::path& socket_path, const proto::local_request& req, int output_fd,
    const std::function<void(const proto::local_event&)>& on_event,
    std::chrono::milliseconds timeout, const std::function<bool()>& interrupted,
    unique_fd* shared) {
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return last_system_error();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto path = socket_path.string();
  if (path.size() >= sizeof addr.sun_path) return errc::invalid_argument;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return error_code(errc::supernode_unreachable);

  std::string line = proto::encode(req) + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    ssize_t n = 0;
    if (sent == 0 && output_fd >= 0) {
      n = send_with_fd(fd.get(), line, output_fd, 0);  // the descriptor rides with the first bytes
    } else {
      n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    }
    if (n <= 0) return errc::protocol_error;
    sent += static_cast<std::size_t>(n);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string pending;
  char buf[4096];
  unique_fd passed;
  for (;;) {
    auto nl = pending.find('\n');
    if (nl != std::string::npos) {
      auto event = proto::decode<proto::local_event>(std::string_view(pending).substr(0, nl));
      pending.erase(0, nl + 1);
      if (!event) return errc::protocol_error;
      if (event.value->event != proto::local_event_kind::progress) {
        if (event.value->shared && (!passed || !shared)) return errc::protocol_error;
        if (event.value->shared) *shared = std::move(passed);
        return *event.value;
      }
      if (on_event) on_event(*event.value);
      continue;
    }
    int wait_ms = -1;
    if (timeout.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return errc::timeout;
      wait_ms = static_cast<int>(left.count());
    }
    pollfd p{fd.get(), POLLIN, 0};
    int r = ::poll(&p, 1, wait_ms);
    if (r == 0) return errc::timeout;
    if (r < 0) {
      if (errno != EINTR) return last_system_error();
      if (interrupted && interrupted()) return errc::cancelled;
      continue;
    }
    auto got = receive_with_fd(fd.get(), buf, passed, 0);
    if (got.size <= 0 || got.truncated)
      return errc::protocol_error;  // the daemon hung up without a verdict
    pending.append(buf, static_cast<std::size_t>(got.size));
  }
}

}  // namespace damselfly::dfget
