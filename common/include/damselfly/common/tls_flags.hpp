// SPDX-License-Identifier: Apache-2.0
// The TLS flags: origin trust (--ca-cert, --insecure) and the cluster's own links.
#pragma once

#include <string>

#include "damselfly/common/tls_context.hpp"
#include "damselfly/common/tls_server_context.hpp"

namespace CLI {
class App;
}

namespace damselfly {

/// Adds `--ca-cert FILE` (must exist) and `--insecure` (plus `insecure_aliases`,
/// e.g. ",--no-check-certificate") to `app`, filling `opts`.
void add_tls_flags(CLI::App& app, tls_options& opts, const std::string& insecure_aliases = "");

/// Adds `--tls-cert FILE --tls-key FILE` (serve TLS; both or neither) and
/// `--tls-client-ca FILE` (require client certificates of those CAs).
void add_tls_server_flags(CLI::App& app, tls_server_files& files);

/// Adds `--cluster-ca FILE` (verify supernodes and peers against these CAs;
/// turns TLS on for every cluster link) and `--tls-client-cert FILE
/// --tls-client-key FILE` (shown to servers that require one).
void add_cluster_tls_flags(CLI::App& app, tls_options& cluster);

}  // namespace damselfly
