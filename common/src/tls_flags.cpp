// SPDX-License-Identifier: Apache-2.0
// CLI11 registration of the origin trust flags.
#include "damselfly/common/tls_flags.hpp"

#include <CLI/CLI.hpp>

namespace damselfly {

void add_tls_flags(CLI::App& app, tls_options& opts, const std::string& insecure_aliases) {
  app.add_option("--ca-cert", opts.ca_file,
                 "PEM file of CAs trusted for https origins (default: the system store)")
      ->check(CLI::ExistingFile);
  app.add_flag("--insecure" + insecure_aliases, opts.insecure,
               "Do not verify https origins' certificates or host names");
}

}  // namespace damselfly
