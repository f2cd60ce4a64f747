// SPDX-License-Identifier: Apache-2.0
// The --ca-cert and --insecure flags every program that reaches origins offers.
#pragma once

#include <string>

#include "damselfly/common/tls_context.hpp"

namespace CLI {
class App;
}

namespace damselfly {

/// Adds `--ca-cert FILE` (must exist) and `--insecure` (plus `insecure_aliases`,
/// e.g. ",--no-check-certificate") to `app`, filling `opts`.
void add_tls_flags(CLI::App& app, tls_options& opts, const std::string& insecure_aliases = "");

}  // namespace damselfly
