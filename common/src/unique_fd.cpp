// SPDX-License-Identifier: Apache-2.0
// unique_fd out-of-line parts (keeps <unistd.h> out of the header).
#include "damselfly/common/unique_fd.hpp"

#include <unistd.h>

namespace damselfly {

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace damselfly
