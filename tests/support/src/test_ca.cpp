// SPDX-License-Identifier: Apache-2.0
// Test CA: openssl req/x509 runs with bounded time; failures carry openssl's words.
#include "damselfly/test_support/test_ca.hpp"

#include <chrono>
#include <fstream>
#include <stdexcept>

#include "damselfly/test_support/process.hpp"

namespace damselfly::test {

namespace fs = std::filesystem;

namespace {

void openssl(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv, std::chrono::seconds(30), log);
  if (r.exit_code != 0)
    throw std::runtime_error("openssl " + args.front() + " failed: " + r.output);
}

}  // namespace

test_ca::test_ca(fs::path dir, std::string name)
    : dir_(std::move(dir)),
      name_(std::move(name)),
      cert_(dir_ / (name_ + "-ca.pem")),
      key_(dir_ / (name_ + "-ca.key")) {
  fs::create_directories(dir_);
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", key_.string(), "-out", cert_.string(), "-days", "2", "-subj",
           "/CN=Damselfly test CA " + name_, "-addext", "basicConstraints=critical,CA:TRUE",
           "-addext", "keyUsage=critical,keyCertSign,cRLSign"},
          dir_ / (name_ + "-openssl.log"));
}

server_identity test_ca::issue(const std::string& file_stem,
                               const std::vector<std::string>& names) const {
  server_identity id{dir_ / (file_stem + ".pem"), dir_ / (file_stem + ".key")};
  auto csr = dir_ / (file_stem + ".csr");
  auto ext = dir_ / (file_stem + ".ext");
  std::string san;
  for (const auto& n : names) san += (san.empty() ? "" : ",") + n;
  std::ofstream(ext) << "subjectAltName=" << san << "\nbasicConstraints=CA:FALSE\n"
                     << "extendedKeyUsage=serverAuth,clientAuth\n";
  auto log = dir_ / (file_stem + "-openssl.log");
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           id.key.string(), "-out", csr.string(), "-subj", "/CN=" + file_stem},
          log);
  openssl({"x509", "-req", "-in", csr.string(), "-CA", cert_.string(), "-CAkey", key_.string(),
           "-CAcreateserial", "-out", id.cert.string(), "-days", "2", "-extfile", ext.string()},
          log);
  return id;
}

}  // namespace damselfly::test
