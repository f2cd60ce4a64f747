// SPDX-License-Identifier: Apache-2.0
// Client-side TLS settings for HTTPS origins: trusted CAs and whether to verify at all.
#pragma once

#include <memory>
#include <string>

#include "damselfly/common/error.hpp"

namespace boost::asio::ssl {
class context;
}

namespace damselfly {

/// How HTTPS servers (origins, or the cluster's supernodes and peers) are trusted.
struct tls_options {
  /// PEM file of trusted CA certificates; empty means the system store.
  std::string ca_file;
  /// PEM text of trusted CA certificates, instead of a file (a daemon is
  /// given its client's: it does not open paths for clients).
  std::string ca_pem;
  /// Skips certificate and host name verification (only when asked for).
  bool insecure = false;
  /// PEM certificate and key shown to servers that ask for one (the
  /// cluster's mutual TLS); empty: none.
  std::string client_cert;
  std::string client_key;
};

/// An OpenSSL client context shared by every connection of a process or a
/// request: loading the system store costs milliseconds, so it is done once.
class tls_context {
 public:
  /// Builds a context; a CA file that cannot be read or holds no certificate
  /// is errc::invalid_argument with the reason in `why`.
  static result<std::shared_ptr<const tls_context>> create(const tls_options& opts,
                                                           std::string* why = nullptr);
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  bool verifies() const noexcept { return !insecure_; }
  /// The Asio context the streams are built on (mutable by OpenSSL's design;
  /// it is not changed after create()).
  boost::asio::ssl::context& native() const noexcept { return *ctx_; }

 private:
  tls_context(std::unique_ptr<boost::asio::ssl::context> ctx, bool insecure);
  std::unique_ptr<boost::asio::ssl::context> ctx_;
  bool insecure_;
};

}  // namespace damselfly
