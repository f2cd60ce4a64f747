// SPDX-License-Identifier: Apache-2.0
// A throwaway certificate authority for HTTPS tests, made with the openssl tool.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace damselfly::test {

/// A certificate (good for servers and for clients) and its key, as PEM files.
struct server_identity {
  std::filesystem::path cert;
  std::filesystem::path key;
};

/// A CA (EC P-256, valid two days) in `dir`; it issues server certificates.
/// Throws std::runtime_error with openssl's output when a step fails.
class test_ca {
 public:
  test_ca(std::filesystem::path dir, std::string name);
  /// The CA certificate, for --ca-cert.
  const std::filesystem::path& cert() const noexcept { return cert_; }
  /// A certificate for `names` ("IP:127.0.0.1", "DNS:localhost") signed by
  /// this CA, usable by a server and as a client certificate.
  server_identity issue(const std::string& file_stem, const std::vector<std::string>& names) const;

 private:
  std::filesystem::path dir_;
  std::string name_;
  std::filesystem::path cert_;
  std::filesystem::path key_;
};

}  // namespace damselfly::test
