// SPDX-License-Identifier: Apache-2.0
// CLI11 registration of the TLS flags.
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

void add_tls_server_flags(CLI::App& app, tls_server_files& files) {
  auto* cert = app.add_option("--tls-cert", files.cert_file,
                              "PEM certificate chain: serve HTTPS instead of HTTP")
                   ->check(CLI::ExistingFile);
  auto* key = app.add_option("--tls-key", files.key_file, "PEM private key of --tls-cert")
                  ->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  app.add_option("--tls-client-ca", files.client_ca_file,
                 "PEM CAs: clients must present a certificate of these (mutual TLS)")
      ->check(CLI::ExistingFile)
      ->needs(cert);
}

void add_cluster_tls_flags(CLI::App& app, tls_options& cluster) {
  app.add_option("--cluster-ca", cluster.ca_file,
                 "PEM CAs of the cluster: talk TLS to supernodes and peers, verified against "
                 "these")
      ->check(CLI::ExistingFile);
  auto* cert = app.add_option("--tls-client-cert", cluster.client_cert,
                              "PEM certificate shown to supernodes and peers that require one")
                   ->check(CLI::ExistingFile);
  auto* key =
      app.add_option("--tls-client-key", cluster.client_key, "PEM private key of --tls-client-cert")
          ->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
}

}  // namespace damselfly
