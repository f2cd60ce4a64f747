// SPDX-License-Identifier: Apache-2.0
// OpenSSL client context: TLS 1.2+, system or given CA store, peer verification.
#include "damselfly/common/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

namespace damselfly {

namespace ssl = boost::asio::ssl;

tls_context::tls_context(std::unique_ptr<ssl::context> ctx, bool insecure)
    : ctx_(std::move(ctx)), insecure_(insecure) {}

tls_context::~tls_context() = default;

result<std::shared_ptr<const tls_context>> tls_context::create(const tls_options& opts,
                                                               std::string* why) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  error_code ec;
  if (!opts.ca_pem.empty()) {
    ctx->add_certificate_authority(boost::asio::buffer(opts.ca_pem), ec);
    if (ec) {
      if (why) *why = "cannot load the CA certificates given: " + ec.message();
      return errc::invalid_argument;
    }
  } else if (!opts.ca_file.empty()) {
    ctx->load_verify_file(opts.ca_file, ec);
    if (ec) {
      if (why) *why = "cannot load CA certificates from " + opts.ca_file + ": " + ec.message();
      return errc::invalid_argument;
    }
  } else {
    ctx->set_default_verify_paths(ec);
    if (ec) {
      if (why) *why = "cannot load the system CA store: " + ec.message();
      return errc::invalid_argument;
    }
  }
  if (!opts.client_cert.empty()) {
    ctx->use_certificate_chain_file(opts.client_cert, ec);
    if (!ec) ctx->use_private_key_file(opts.client_key, ssl::context::pem, ec);
    if (ec) {
      if (why)
        *why = "cannot load the client certificate " + opts.client_cert + " / key " +
               opts.client_key + ": " + ec.message();
      return errc::invalid_argument;
    }
  }
  ctx->set_verify_mode(opts.insecure ? ssl::verify_none : ssl::verify_peer);
  return std::shared_ptr<const tls_context>(new tls_context(std::move(ctx), opts.insecure));
}

}  // namespace damselfly
