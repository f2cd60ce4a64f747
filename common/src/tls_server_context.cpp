// SPDX-License-Identifier: Apache-2.0
// tls_server_context: loading and checking the listener's certificate files.
#include "damselfly/common/tls_server_context.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

namespace damselfly {

namespace ssl = boost::asio::ssl;

tls_server_context::tls_server_context(std::unique_ptr<ssl::context> ctx, bool requires_client_cert)
    : ctx_(std::move(ctx)), requires_client_cert_(requires_client_cert) {}

tls_server_context::~tls_server_context() = default;

result<std::shared_ptr<const tls_server_context>> tls_server_context::create(
    const tls_server_files& files, std::string* why) {
  auto refuse = [&](std::string text) -> result<std::shared_ptr<const tls_server_context>> {
    if (why) *why = std::move(text);
    return errc::invalid_argument;
  };
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  error_code ec;
  ctx->use_certificate_chain_file(files.cert_file, ec);
  if (ec) return refuse("cannot load the certificate " + files.cert_file + ": " + ec.message());
  ctx->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) return refuse("cannot load the key " + files.key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return refuse("the key " + files.key_file + " does not belong to " + files.cert_file);
  bool client_certs = !files.client_ca_file.empty();
  if (client_certs) {
    ctx->load_verify_file(files.client_ca_file, ec);
    if (ec)
      return refuse("cannot load client CAs from " + files.client_ca_file + ": " + ec.message());
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return std::shared_ptr<const tls_server_context>(
      new tls_server_context(std::move(ctx), client_certs));
}

}  // namespace damselfly
