// SPDX-License-Identifier: Apache-2.0
// Launchers for the real servers integration tests use.
#include "damselfly/test_support/cluster.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "damselfly/test_support/files.hpp"
#include "damselfly/test_support/net.hpp"

namespace damselfly::test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string supernode_binary() {
  return DAMSELFLY_BIN_DIR "/supernode";
}
std::string dfget_binary() {
  return DAMSELFLY_BIN_DIR "/dfget";
}
std::string test_origin_binary() {
  return DAMSELFLY_BIN_DIR "/test_origin";
}
std::string bad_peer_binary() {
  return DAMSELFLY_BIN_DIR "/bad_peer";
}

namespace {

std::uint16_t read_port(const fs::path& file, const std::string& what) {
  auto text = wait_for_file(file, 15s);
  if (text.empty()) throw std::runtime_error(what + " did not report its port");
  return static_cast<std::uint16_t>(std::stoi(text));
}

bool accepts_connections(std::uint16_t port, const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

/// A plain server until it answers HTTP; a TLS one (`tls`) until it accepts
/// connections (its /healthz is behind the handshake).
void wait_healthy(std::uint16_t port, const std::string& target, const std::string& what,
                  const std::string& host = "127.0.0.1", bool tls = false) {
  for (int i = 0; i < 500; ++i) {
    if (tls ? accepts_connections(port, host) : http_get(port, target, "", host).status > 0) return;
    std::this_thread::sleep_for(20ms);
  }
  throw std::runtime_error(what + " did not answer on port " + std::to_string(port));
}

bool serves_tls(const std::vector<std::string>& args) {
  return std::find(args.begin(), args.end(), "--tls-cert") != args.end();
}

std::uint64_t stat_field(const std::string& json, const std::string& key) {
  auto pos = json.find("\"" + key + "\":");
  if (pos == std::string::npos) throw std::runtime_error("no " + key + " in " + json);
  return std::stoull(json.substr(pos + key.size() + 3));
}

}  // namespace

origin_server::origin_server(fs::path root, fs::path workdir) : root_(std::move(root)) {
  static std::atomic<int> n{0};
  auto id = std::to_string(n++);
  auto port_file = workdir / ("origin-" + id + ".port");
  proc_ = std::make_unique<process>(
      std::vector<std::string>{test_origin_binary(), "--root", root_.string(), "--port-file",
                               port_file.string()},
      workdir / ("origin-" + id + ".log"));
  port_ = read_port(port_file, "test_origin");
}

std::string origin_server::url(const std::string& name, const std::string& query) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + name +
         (query.empty() ? "" : "?" + query);
}

std::uint64_t origin_server::body_bytes() const {
  return stat_field(http_get(port_, "/_stats").body, "body_bytes");
}

std::uint64_t origin_server::requests() const {
  return stat_field(http_get(port_, "/_stats").body, "requests");
}

nginx_server::nginx_server(fs::path root, fs::path workdir, const server_identity* tls)
    : workdir_(std::move(workdir)) {
  fs::create_directories(workdir_ / "nginx-tmp");
  port_ = free_port();
  std::string tls_server;
  if (tls) {
    tls_port_ = free_port();
    tls_server = "  server { listen 127.0.0.1:" + std::to_string(tls_port_) + " ssl; root " +
                 root.string() + "; ssl_certificate " + tls->cert.string() +
                 "; ssl_certificate_key " + tls->key.string() + "; }\n";
  }
  auto conf = workdir_ / "nginx.conf";
  std::ofstream(conf) << "worker_processes 1;\n"
                      << "error_log " << (workdir_ / "nginx-error.log").string() << ";\n"
                      << "pid " << (workdir_ / "nginx.pid").string() << ";\n"
                      << "events { worker_connections 1024; }\n"
                      << "http {\n"
                      << "  log_format bytes '$uri $body_bytes_sent';\n"
                      << "  access_log " << (workdir_ / "nginx-access.log").string() << " bytes;\n"
                      << "  client_body_temp_path " << (workdir_ / "nginx-tmp").string() << ";\n"
                      << "  proxy_temp_path " << (workdir_ / "nginx-tmp").string() << ";\n"
                      << "  fastcgi_temp_path " << (workdir_ / "nginx-tmp").string() << ";\n"
                      << "  uwsgi_temp_path " << (workdir_ / "nginx-tmp").string() << ";\n"
                      << "  scgi_temp_path " << (workdir_ / "nginx-tmp").string() << ";\n"
                      << "  sendfile on;\n"
                      << "  server { listen 127.0.0.1:" << port_ << "; root " << root.string()
                      << "; }\n"
                      << tls_server << "}\n";
  proc_ = std::make_unique<process>(
      std::vector<std::string>{"/usr/sbin/nginx", "-c", conf.string(), "-p", workdir_.string(),
                               "-g", "daemon off;"},
      workdir_ / "nginx-stdout.log");
  wait_healthy(port_, "/", "nginx");
}

nginx_server::~nginx_server() {
  proc_->stop(5s);
}

std::string nginx_server::url(const std::string& name) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + name;
}

std::string nginx_server::https_url(const std::string& name, const std::string& host) const {
  return "https://" + host + ":" + std::to_string(tls_port_) + "/" + name;
}

std::uint64_t nginx_server::body_bytes() const {
  std::ifstream in(workdir_ / "nginx-access.log");
  std::uint64_t total = 0;
  std::string line;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    if (space == std::string::npos || line.substr(0, space) == "/") continue;  // readiness probes
    total += std::stoull(line.substr(space + 1));
  }
  return total;
}

supernode_server::supernode_server(fs::path data_dir, fs::path workdir,
                                   std::vector<std::string> extra, std::uint16_t port)
    : data_dir_(std::move(data_dir)),
      workdir_(std::move(workdir)),
      extra_(std::move(extra)),
      port_(port) {
  start();
}

void supernode_server::start() {
  // Unique across supernodes sharing a workdir: each reads its own port file.
  static std::atomic<int> started{0};
  auto id = std::to_string(started++);
  auto port_file = workdir_ / ("supernode-" + id + ".port");
  std::vector<std::string> argv{
      supernode_binary(), "--listen",         "127.0.0.1:" + std::to_string(port_),
      "--data-dir",       data_dir_.string(), "--port-file",
      port_file.string(), "--log-level",      "debug"};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  proc_ = std::make_unique<process>(argv, workdir_ / "supernode.log");
  port_ = read_port(port_file, "supernode");
  wait_healthy(port_, "/healthz", "supernode", "127.0.0.1", serves_tls(extra_));
}

void supernode_server::restart() {
  proc_->stop(10s);
  start();
}

std::uint64_t supernode_server::rss() const {
  std::ifstream status("/proc/" + std::to_string(proc_->pid()) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // in kB
  return 0;
}

std::optional<int> supernode_server::stop(std::chrono::milliseconds timeout) {
  proc_->signal(SIGTERM);
  return proc_->wait(timeout);
}
void supernode_server::signal(int sig) {
  proc_->signal(sig);
}
void supernode_server::kill() {
  proc_->signal(SIGKILL);
  proc_->wait(10s);
}

void supernode_server::kill_and_restart() {
  kill();
  start();
}

daemon_server::daemon_server(int host_octet, const std::string& supernode_addr, fs::path workdir,
                             std::vector<std::string> extra)
    : ip_("127.0.0." + std::to_string(host_octet)),
      supernode_(supernode_addr),
      extra_(std::move(extra)),
      dir_(workdir / ("daemon-" + ip_)) {
  fs::create_directories(dir_);
  port_ = free_port();
  start();
}

void daemon_server::restart() {
  proc_->stop(10s);
  start();
}

void daemon_server::start() {
  std::vector<std::string> argv{dfget_binary(), "daemon",
                                "--listen",     ip_ + ":" + std::to_string(port_),
                                "--data-dir",   (dir_ / "data").string(),
                                "--socket",     socket().string(),
                                "--supernode",  supernode_,
                                "--log-level",  "debug"};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  proc_ = std::make_unique<process>(argv, dir_ / "daemon.log");
  wait_healthy(port_, "/healthz", "daemon " + ip_, ip_, serves_tls(extra_));
  // The local socket appears right after the piece server.
  for (int i = 0; i < 200 && !fs::exists(socket()); ++i) std::this_thread::sleep_for(10ms);
}

std::string daemon_server::metrics() const {
  return http_get(port_, "/metrics", "", ip_).body;
}
std::string daemon_server::log() const {
  return read_text(dir_ / "daemon.log");
}
std::optional<int> daemon_server::terminate(std::chrono::milliseconds timeout) {
  proc_->signal(SIGTERM);
  return proc_->wait(timeout);
}

void daemon_server::kill() {
  proc_->signal(SIGKILL);
  proc_->wait(10s);
}

std::unique_ptr<process> daemon_server::start_client(const std::string& url, const fs::path& out,
                                                     const std::vector<std::string>& extra) const {
  static std::atomic<int> n{0};
  std::vector<std::string> argv{dfget_binary(),   url, "-O", out.string(), "--daemon-socket",
                                socket().string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<process>(argv, dir_ / ("client-" + std::to_string(n++) + ".log"));
}

double sum_metric(const std::vector<std::unique_ptr<daemon_server>>& daemons,
                  const std::string& series) {
  double total = 0;
  for (const auto& d : daemons) {
    double v = metric(d->metrics(), series);
    if (v > 0) total += v;
  }
  return total;
}

std::string supernode_server::metrics() const {
  return http_get(port_, "/metrics").body;
}
std::string supernode_server::log() const {
  return read_text(workdir_ / "supernode.log");
}

run_result run_dfget(const std::vector<std::string>& args, const fs::path& workdir,
                     std::chrono::milliseconds timeout) {
  static std::atomic<int> n{0};
  std::vector<std::string> argv{dfget_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout, workdir / ("dfget-" + std::to_string(n++) + ".log"));
}

}  // namespace damselfly::test
