// SPDX-License-Identifier: Apache-2.0
// One descriptor riding with bytes on a unix socket (SCM_RIGHTS), both ways.
#pragma once

#include <sys/types.h>

#include <span>

#include "damselfly/common/unique_fd.hpp"

namespace damselfly {

/// sendmsg() of `data` with `fd` attached to its first byte; `flags` as for
/// sendmsg (MSG_NOSIGNAL is added). Returns what sendmsg returns.
ssize_t send_with_fd(int sock, std::span<const char> data, int fd, int flags);

/// What one receive_with_fd() got.
struct received_bytes {
  ssize_t size = 0;        ///< as recvmsg returns it
  bool truncated = false;  ///< descriptors were sent that did not fit: the message is not whole
};

/// recvmsg() into `buf`; the first descriptor that comes goes into `passed`
/// if that is empty (any other is closed at once). Descriptors arrive
/// close-on-exec. `flags` as for recvmsg.
received_bytes receive_with_fd(int sock, std::span<char> buf, unique_fd& passed, int flags);

}  // namespace damselfly
