// SPDX-License-Identifier: Apache-2.0
// fd_passing: the msghdr and control-message handling for SCM_RIGHTS.
#include "damselfly/common/fd_passing.hpp"

#include <sys/socket.h>

#include <cstring>

namespace damselfly {

ssize_t send_with_fd(int sock, std::span<const char> data, int fd, int flags) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return ::sendmsg(sock, &msg, flags | MSG_NOSIGNAL);
}

received_bytes receive_with_fd(int sock, std::span<char> buf, unique_fd& passed, int flags) {
  iovec iov{buf.data(), buf.size()};
  // Room for a few: a peer that sends more than one gets them closed, not leaked.
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  received_bytes got;
  got.size = ::recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
  if (got.size < 0) return got;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      unique_fd got_fd(fd);
      if (!passed) passed = std::move(got_fd);  // any other is closed here
    }
  }
  got.truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  return got;
}

}  // namespace damselfly
