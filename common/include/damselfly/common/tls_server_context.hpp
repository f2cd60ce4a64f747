// SPDX-License-Identifier: Apache-2.0
// Server-side TLS for the cluster's own listeners: certificate, key, and optionally client
// certificates.
#pragma once

#include <memory>
#include <string>

#include "damselfly/common/error.hpp"

namespace boost::asio::ssl {
class context;
}

namespace damselfly {

/// The files a TLS listener is set up from.
struct tls_server_files {
  std::string cert_file;  ///< PEM certificate chain, the server's own first
  std::string key_file;   ///< PEM private key of that certificate
  /// PEM CAs that client certificates must chain to; empty: clients show none.
  std::string client_ca_file;
  bool enabled() const noexcept { return !cert_file.empty(); }
};

/// An OpenSSL server context (TLS 1.2 and later). Built whole or not at
/// all, so a reload with a bad file keeps the context in use.
class tls_server_context {
 public:
  /// Loads the files; a missing file, a key that does not match the
  /// certificate or a CA file without certificates is errc::invalid_argument
  /// with the reason in `why`.
  static result<std::shared_ptr<const tls_server_context>> create(const tls_server_files& files,
                                                                  std::string* why = nullptr);
  ~tls_server_context();
  tls_server_context(const tls_server_context&) = delete;
  tls_server_context& operator=(const tls_server_context&) = delete;

  /// Whether a client must present a certificate of client_ca_file's CAs.
  bool requires_client_cert() const noexcept { return requires_client_cert_; }
  /// The Asio context connections are built on (not changed after create()).
  boost::asio::ssl::context& native() const noexcept { return *ctx_; }

 private:
  tls_server_context(std::unique_ptr<boost::asio::ssl::context> ctx, bool requires_client_cert);
  std::unique_ptr<boost::asio::ssl::context> ctx_;
  bool requires_client_cert_;
};

}  // namespace damselfly
