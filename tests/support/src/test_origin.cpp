// SPDX-License-Identifier: Apache-2.0
// test_origin: an HTTP origin for tests that serves files with injectable faults and counts its
// bytes.
//
// Faults are chosen per request by query parameters on any file URL:
//   norange=1        ignore Range (always 200 with the whole body)
//   nolength=1       no Content-Length: the body ends when the connection closes (implies norange)
//   status=N         answer status N with a short body
//   reset_after=N    send N body bytes, then reset the connection
//   stall_after=N    send N body bytes, then send nothing more
//   slow=BPS         send the body at about BPS bytes per second
//   delay_ms=N       answer N ms after the request came (an origin a round trip of N ms away)
//   noetag=1         send neither ETag nor Last-Modified
//   claim_size=N     a lying Content-Range: the full length is said to be N
//   auth=TOKEN       401 unless the request has "Authorization: Bearer TOKEN"
//   basic=B64        401 unless the request has "Authorization: Basic B64"
//   redirect=LOC     answer redirect_status (default 302) with "Location: LOC" (%XX decoded)
//   redirect_loop=1  redirect to this very URL, forever
// GET /_stats answers {"requests":R,"body_bytes":B} (not counted itself);
// GET /_last_headers answers the header lines of the last other request.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace {

std::atomic<std::uint64_t> g_requests{0};
std::atomic<std::uint64_t> g_body_bytes{0};
std::filesystem::path g_root;
std::mutex g_headers_mu;
std::string g_last_headers;

bool send_all(int fd, const char* data, std::size_t len) {
  while (len > 0) {
    ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string http_date(std::time_t t) {
  char buf[64];
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::map<std::string, std::string> parse_query(const std::string& q) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < q.size()) {
    auto amp = q.find('&', pos);
    auto part = q.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = part.find('=');
    out[part.substr(0, eq)] = eq == std::string::npos ? "" : part.substr(eq + 1);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

std::string percent_decode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::uint64_t num(const std::map<std::string, std::string>& q, const char* key) {
  auto it = q.find(key);
  return it == q.end() ? 0 : std::strtoull(it->second.c_str(), nullptr, 10);
}

/// Returns false when the connection must close.
bool serve_one(int fd, std::string& pending) {
  std::size_t end;
  char buf[16384];
  while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
    if (pending.size() > 65536) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending.append(buf, static_cast<std::size_t>(n));
  }
  std::string head = pending.substr(0, end);
  pending.erase(0, end + 4);
  std::string method = head.substr(0, head.find(' '));
  auto t0 = head.find(' ') + 1;
  std::string target = head.substr(t0, head.find(' ', t0) - t0);
  std::string range, connection, authorization;
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    auto next = head.find("\r\n", pos + 2);
    std::string line =
        head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon), value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      if (::strcasecmp(name.c_str(), "Range") == 0) range = value;
      if (::strcasecmp(name.c_str(), "Connection") == 0) connection = value;
      if (::strcasecmp(name.c_str(), "Authorization") == 0) authorization = value;
    }
    pos = next;
  }
  bool keep = ::strcasecmp(connection.c_str(), "close") != 0;

  if (target == "/_last_headers") {
    std::string body;
    {
      std::lock_guard lock(g_headers_mu);
      body = g_last_headers;
    }
    std::string resp =
        "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return send_all(fd, resp.data(), resp.size()) && keep;
  }
  if (target != "/_stats") {
    std::lock_guard lock(g_headers_mu);
    g_last_headers = head.substr(head.find("\r\n") + 2) + "\r\n";
  }
  if (target == "/_stats") {
    std::string body = "{\"requests\":" + std::to_string(g_requests.load()) +
                       ",\"body_bytes\":" + std::to_string(g_body_bytes.load()) + "}";
    std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body;
    return send_all(fd, resp.data(), resp.size()) && keep;
  }
  ++g_requests;
  auto qpos = target.find('?');
  std::string path = target.substr(0, qpos);
  auto q = parse_query(qpos == std::string::npos ? "" : target.substr(qpos + 1));
  if (auto d = num(q, "delay_ms")) std::this_thread::sleep_for(std::chrono::milliseconds(d));

  auto simple = [&](int status, const std::string& body) {
    std::string resp = "HTTP/1.1 " + std::to_string(status) +
                       " Test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    if (method != "HEAD") resp += body;
    g_body_bytes += method != "HEAD" ? body.size() : 0;
    return send_all(fd, resp.data(), resp.size()) && keep;
  };
  if (auto s = num(q, "status")) return simple(static_cast<int>(s), "injected error\n");
  if (q.count("redirect") || q.count("redirect_loop")) {
    std::string to = q.count("redirect_loop") ? target : percent_decode(q.at("redirect"));
    auto code = num(q, "redirect_status");
    std::string resp = "HTTP/1.1 " + std::to_string(code ? code : 302) +
                       " Moved\r\nLocation: " + to + "\r\nContent-Length: 0\r\n\r\n";
    return send_all(fd, resp.data(), resp.size()) && keep;
  }
  if (q.count("auth") && authorization != "Bearer " + q.at("auth"))
    return simple(401, "credentials required\n");
  if (q.count("basic") && authorization != "Basic " + q.at("basic"))
    return simple(401, "credentials required\n");
  if (path.find("..") != std::string::npos) return simple(400, "bad path\n");
  auto file = g_root / path.substr(1);
  struct stat st {};
  int ffd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (ffd < 0 || ::fstat(ffd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (ffd >= 0) ::close(ffd);
    return simple(404, "not found\n");
  }
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  bool nolength = q.count("nolength") > 0;
  bool norange = nolength || q.count("norange") > 0;
  std::uint64_t first = 0, length = size;
  int status = 200;
  std::string extra;
  if (!range.empty() && !norange && range.rfind("bytes=", 0) == 0) {
    std::string spec = range.substr(6);
    auto dash = spec.find('-');
    std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (a.empty()) {
      std::uint64_t n = std::strtoull(b.c_str(), nullptr, 10);
      first = n >= size ? 0 : size - n;
    } else {
      first = std::strtoull(a.c_str(), nullptr, 10);
      if (!b.empty()) last = std::min<std::uint64_t>(last, std::strtoull(b.c_str(), nullptr, 10));
    }
    if (first >= size) {
      ::close(ffd);
      std::string resp = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" +
                         std::to_string(size) + "\r\nContent-Length: 0\r\n\r\n";
      return send_all(fd, resp.data(), resp.size()) && keep;
    }
    status = 206;
    length = last - first + 1;
    std::string total = q.count("claim_size") ? q.at("claim_size") : std::to_string(size);
    extra += "Content-Range: bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
             total + "\r\n";
  }
  if (!norange) extra += "Accept-Ranges: bytes\r\n";
  if (!q.count("noetag")) {
    extra += "ETag: \"" + std::to_string(size) + "-" + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec) + "\"\r\n";
    extra += "Last-Modified: " + http_date(st.st_mtime) + "\r\n";
  }
  if (nolength) {
    extra += "Connection: close\r\n";
    keep = false;
  } else {
    extra += "Content-Length: " + std::to_string(length) + "\r\n";
  }
  std::string resp_head = "HTTP/1.1 " + std::to_string(status) +
                          (status == 206 ? " Partial Content" : " OK") + "\r\n" + extra + "\r\n";
  if (!send_all(fd, resp_head.data(), resp_head.size())) {
    ::close(ffd);
    return false;
  }
  if (method == "HEAD") {
    ::close(ffd);
    return keep;
  }
  std::uint64_t reset_after = q.count("reset_after") ? num(q, "reset_after") : UINT64_MAX;
  std::uint64_t stall_after = q.count("stall_after") ? num(q, "stall_after") : UINT64_MAX;
  std::uint64_t bps = num(q, "slow");
  auto started = std::chrono::steady_clock::now();
  std::uint64_t sent = 0;
  bool ok = true;
  while (sent < length) {
    std::size_t chunk = bps ? 16384 : sizeof buf;
    chunk = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, length - sent));
    if (sent + chunk > reset_after) chunk = static_cast<std::size_t>(reset_after - sent);
    if (sent + chunk > stall_after) chunk = static_cast<std::size_t>(stall_after - sent);
    if (chunk > 0) {
      ssize_t n = ::pread(ffd, buf, chunk, static_cast<off_t>(first + sent));
      if (n <= 0 || !send_all(fd, buf, static_cast<std::size_t>(n))) {
        ok = false;
        break;
      }
      sent += static_cast<std::uint64_t>(n);
      g_body_bytes += static_cast<std::uint64_t>(n);
    }
    if (sent >= reset_after) {
      linger lg{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      ok = false;
      break;
    }
    if (sent >= stall_after) {
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, 120000);  // until the client gives up
      ok = false;
      break;
    }
    if (bps) {
      auto due = started + std::chrono::microseconds(sent * 1000000 / bps);
      std::this_thread::sleep_until(due);
    }
  }
  ::close(ffd);
  return ok && keep;
}

void serve(int fd) {
  timeval tv{60, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string pending;
  while (serve_one(fd, pending)) {
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::string port_file, listen = "127.0.0.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--root")
      g_root = argv[i + 1];
    else if (k == "--port-file")
      port_file = argv[i + 1];
    else if (k == "--listen")
      listen = argv[i + 1];
  }
  if (g_root.empty()) {
    std::fprintf(stderr, "usage: test_origin --root DIR [--port-file F] [--listen ADDR]\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, listen.c_str(), &addr.sin_addr);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(lfd, 512) != 0) {
    std::perror("test_origin: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  std::printf("test_origin listening on %s:%d\n", listen.c_str(), port);
  std::fflush(stdout);
  if (!port_file.empty()) {
    std::ofstream(port_file) << port << "\n";
  }
  for (;;) {
    int fd = ::accept(lfd, nullptr, nullptr);
    if (fd < 0) continue;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread(serve, fd).detach();
  }
}
