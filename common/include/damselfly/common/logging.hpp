// SPDX-License-Identifier: Apache-2.0
// spdlog setup shared by the programs.
#pragma once

#include <string>

#include "damselfly/common/error.hpp"

namespace damselfly {

/// Installs the default logger: stderr, or `file` when non-empty, at `level`
/// ("trace", "debug", "info", "warn", "error", "off"). invalid_argument on an
/// unknown level; the file's open error otherwise.
error_code setup_logging(const std::string& program, const std::string& level,
                         const std::string& file = "");

}  // namespace damselfly
