// SPDX-License-Identifier: Apache-2.0
// dfget's exit codes (docs/cli.md) and the mapping from failures to them.
#pragma once

#include "damselfly/common/error.hpp"

namespace damselfly::dfget {

enum exit_code : int {
  exit_ok = 0,
  exit_internal = 1,
  exit_usage = 2,
  exit_supernode = 3,
  exit_origin = 4,
  exit_verify = 5,
  exit_local_io = 6,
  exit_timeout = 7,
};

/// The exit code a failed download ends dfget with.
int exit_code_for(const error_code& ec);

}  // namespace damselfly::dfget
