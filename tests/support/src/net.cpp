// SPDX-License-Identifier: Apache-2.0
// Raw socket HTTP for tests (independent of the code under test).
#include "damselfly/test_support/net.hpp"

#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strings.h>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace damselfly::test {

int socket_between(std::uint16_t local, std::uint16_t peer) {
  for (int fd = 0; fd < 4096; ++fd) {
    sockaddr_in a{}, b{};
    socklen_t la = sizeof a, lb = sizeof b;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &la) != 0 || a.sin_family != AF_INET ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&b), &lb) != 0)
      continue;
    if (ntohs(a.sin_port) == local && ntohs(b.sin_port) == peer) return fd;
  }
  return -1;
}

long tcp_data_segments_out(int fd) {
  // The kernel's tcp_info: the C library's copy predates tcpi_data_segs_out.
  struct tcp_info info {};
  socklen_t len = sizeof info;
  if (fd < 0 || ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(struct tcp_info, tcpi_data_segs_out) + sizeof info.tcpi_data_segs_out)
    return -1;
  return static_cast<long>(info.tcpi_data_segs_out);
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string raw_response::header(const std::string& name) const {
  std::istringstream in(head);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (::strncasecmp(line.c_str(), name.c_str(), name.size()) == 0 && colon == name.size()) {
      auto v = line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(' '));
      while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
      return v;
    }
  }
  return {};
}

held_connection::held_connection(std::uint16_t port, int receive_buffer, const std::string& ip) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return;
  }
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return;
  }
  fd_ = fd;
}

held_connection::~held_connection() {
  if (fd_ >= 0) ::close(fd_);
}

bool held_connection::send(const std::string& bytes) {
  std::size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return fd_ >= 0;
}

std::string held_connection::read_some(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return {};
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

bool held_connection::closed_by_server(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

raw_response raw_http(std::uint16_t port, const std::string& request,
                      std::chrono::milliseconds timeout, const std::string& host) {
  raw_response r;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return r;
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string data;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto end = data.find("\r\n\r\n");
  if (end == std::string::npos) return r;
  r.head = data.substr(0, end + 2);
  r.body = data.substr(end + 4);
  if (r.head.rfind("HTTP/1.", 0) == 0 && r.head.size() > 12)
    r.status = std::atoi(r.head.c_str() + 9);
  return r;
}

std::string raw_response::decoded_body() const {
  auto coding = header("Transfer-Encoding");
  std::transform(coding.begin(), coding.end(), coding.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (coding.find("chunked") == std::string::npos) return body;
  std::string out;
  std::size_t at = 0;
  while (at < body.size()) {
    auto line_end = body.find("\r\n", at);
    if (line_end == std::string::npos) break;
    auto chunk = std::strtoull(body.substr(at, line_end - at).c_str(), nullptr, 16);
    if (chunk == 0 || line_end + 2 + chunk > body.size()) break;
    out.append(body, line_end + 2, chunk);
    at = line_end + 2 + chunk + 2;  // the chunk's own CRLF
  }
  return out;
}

std::string bearer_header(const std::string& token) {
  return "Authorization: Bearer " + token + "\r\n";
}

raw_response http_get(std::uint16_t port, const std::string& target, const std::string& extra,
                      const std::string& host) {
  return raw_http(
      port,
      "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "Connection: close\r\n\r\n",
      std::chrono::seconds(10), host);
}

raw_response post_json(std::uint16_t port, const std::string& target, const std::string& body,
                       const std::string& extra) {
  return raw_http(port, "POST " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra +
                            "Content-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body);
}

double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace damselfly::test
