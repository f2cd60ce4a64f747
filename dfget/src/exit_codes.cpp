// SPDX-License-Identifier: Apache-2.0
// Failure to exit code mapping.
#include "damselfly/dfget/exit_codes.hpp"

namespace damselfly::dfget {

int exit_code_for(const error_code& ec) {
  if (!ec) return exit_ok;
  if (ec == errc::invalid_argument) return exit_usage;
  if (ec == errc::supernode_unreachable || ec == errc::protocol_error) return exit_supernode;
  if (ec == errc::origin_http_error || ec == errc::origin_unreachable || ec == errc::task_failed ||
      ec == errc::source_changed)
    return exit_origin;
  if (ec == errc::digest_mismatch || ec == errc::too_many_failures) return exit_verify;
  if (ec == errc::io_error) return exit_local_io;
  if (ec == errc::timeout) return exit_timeout;
  return exit_internal;
}

}  // namespace damselfly::dfget
