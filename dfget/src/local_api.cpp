// SPDX-License-Identifier: Apache-2.0
// local_api: accepting local clients, reading their request, relaying progress and the verdict.
#include "local_api.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>

#include "damselfly/common/async_event.hpp"
#include "damselfly/common/fd_passing.hpp"
#include "damselfly/common/file_io.hpp"
#include "damselfly/common/unique_fd.hpp"
#include "damselfly/dfget/exit_codes.hpp"

namespace damselfly::dfget {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using local = asio::local::stream_protocol;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

/// The longest request line a client may send (CA certificates included).
constexpr std::size_t max_request = 1 << 20;

/// Reads one request line into `line`, and the descriptor that may ride with
/// it into `passed` (further descriptors are closed). Blocking reads are
/// never made: the socket is waited on, then read without waiting.
asio::awaitable<error_code> read_request(local::socket& sock, std::string& line,
                                         unique_fd& passed) {
  for (;;) {
    if (auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      co_return error_code{};
    }
    if (line.size() > max_request) co_return error_code(errc::bad_request);
    auto [wec] = co_await sock.async_wait(local::socket::wait_read, nothrow);
    if (wec) co_return wec;
    char buf[16384];
    auto got = receive_with_fd(sock.native_handle(), buf, passed, MSG_DONTWAIT);
    if (got.size < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      co_return last_system_error();
    }
    // Descriptors that did not fit were dropped by the kernel: not a request we can answer.
    if (got.truncated) co_return error_code(errc::bad_request);
    auto n = got.size;
    if (n == 0) co_return error_code(asio::error::eof);
    line.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

/// One local client: its socket, who it is, and the progress waiting to be written to it.
struct local_api::client {
  explicit client(socket s)
      : sock(std::move(s)), progress_changed(sock.get_executor()), pace(sock.get_executor()) {
    socklen_t len = sizeof cred;
    if (::getsockopt(sock.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      cred.pid = 0;
      cred.uid = static_cast<uid_t>(-1);  // unknown: nobody's rights
      cred.gid = static_cast<gid_t>(-1);
    }
  }
  socket sock;
  ucred cred{};
  unique_fd output;  ///< the client's temporary output, passed with its request
  std::optional<proto::local_event> latest;  ///< newest progress not yet written
  async_event progress_changed;              ///< new progress, or the download ended
  asio::steady_timer pace;                   ///< the pause between progress lines
  bool done = false;
  bool broken = false;
};

local_api::local_api(asio::any_io_executor ex, fs::path socket_path, task_cache& tasks,
                     download_runner& downloads, task_group& group)
    : ex_(ex),
      socket_path_(std::move(socket_path)),
      tasks_(tasks),
      downloads_(downloads),
      group_(group),
      acceptor_(ex) {}

error_code local_api::open() {
  std::error_code fec;
  // A user's own daemon keeps its socket in a directory only that user can
  // enter; root's lives in the unit's runtime directory (0750, group damselfly).
  if (::geteuid() != 0) {
    std::string why;
    if (auto failed = make_private_dir(socket_path_.parent_path(), &why)) {
      spdlog::error("{}", why);
      return failed;
    }
  } else {
    fs::create_directories(socket_path_.parent_path(), fec);
  }
  const local::endpoint ep(socket_path_.string());
  {
    local::socket probe(ex_);
    error_code ec;
    probe.connect(ep, ec);
    if (!ec) return error_code(EADDRINUSE, boost::system::system_category());
  }
  fs::remove(socket_path_, fec);
  error_code ec;
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) restrict_socket();
  return ec;
}

void local_api::restrict_socket() {
  // Whatever the umask: the owner, and for root's daemon the damselfly group.
  mode_t mode = 0600;
  if (::geteuid() == 0) {
    mode = 0660;
    if (const group* g = ::getgrnam("damselfly"))
      if (::chown(socket_path_.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0)
        spdlog::warn("cannot give {} to group damselfly: {}", socket_path_.string(),
                     std::strerror(errno));
  }
  if (::chmod(socket_path_.c_str(), mode) != 0)
    spdlog::warn("cannot set the mode of {}: {}", socket_path_.string(), std::strerror(errno));
}

void local_api::start() {
  group_.spawn(accept_loop());
}

void local_api::stop() {
  error_code ignored;
  if (acceptor_.is_open()) {
    acceptor_.close(ignored);
    // Ours to remove: nobody answers on it any more.
    std::error_code fec;
    fs::remove(socket_path_, fec);
  }
}

asio::awaitable<void> local_api::accept_loop() {
  for (;;) {
    auto [ec, sock] = co_await acceptor_.async_accept(nothrow);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (!ec) group_.spawn(serve(std::move(sock)));
  }
}

namespace {

asio::awaitable<bool> send_event(local::socket& sock, bool& broken, const proto::local_event& e) {
  std::string text = proto::encode(e) + "\n";
  auto [ec, n] = co_await asio::async_write(sock, asio::buffer(text), nothrow);
  if (ec) {
    spdlog::debug("local client: write failed: {}", ec.message());
    broken = true;
  }
  co_return !ec;
}

/// The final line; a shared file's descriptor rides with its first byte.
asio::awaitable<void> send_verdict(local::socket& sock, bool& broken, const local_verdict& v) {
  if (!v.shared) {
    co_await send_event(sock, broken, v.event);
    co_return;
  }
  std::string text = proto::encode(v.event) + "\n";
  ssize_t sent = -1;
  while (sent < 0) {
    auto [wec] = co_await sock.async_wait(local::socket::wait_write, nothrow);
    if (wec) break;
    sent = send_with_fd(sock.native_handle(), text, v.shared.get(), MSG_DONTWAIT);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
  }
  if (sent <= 0) {
    spdlog::debug("local client: cannot send the verdict: {}", std::strerror(errno));
    broken = true;
    co_return;
  }
  auto rest = asio::buffer(text.data() + sent, text.size() - static_cast<std::size_t>(sent));
  auto [ec, n] = co_await asio::async_write(sock, rest, nothrow);
  if (ec) broken = true;
}

}  // namespace

asio::awaitable<void> local_api::serve(socket sock) {
  client c(std::move(sock));
  ++clients_;
  struct count_down {
    std::size_t& n;
    ~count_down() { --n; }
  } counted{clients_};
  // The request line must arrive promptly; after that the client waits as
  // long as the download takes.
  asio::steady_timer deadline(ex_, std::chrono::seconds(30));
  deadline.async_wait([&c](const error_code& ec) {
    if (ec) return;
    error_code ignored;
    c.sock.close(ignored);
  });
  std::string line;
  auto rec = co_await read_request(c.sock, line, c.output);
  deadline.cancel();
  if (!rec) {
    auto verdict = co_await answer(c, line);
    if (!c.broken) co_await send_verdict(c.sock, c.broken, verdict);
  }
  error_code ignored;
  c.sock.shutdown(local::socket::shutdown_both, ignored);
  c.sock.close(ignored);
}

asio::awaitable<local_verdict> local_api::answer(client& c, std::string_view line) {
  auto msg = proto::decode<proto::local_request>(line);
  if (!msg) {
    proto::local_event bad;
    bad.event = proto::local_event_kind::error;
    bad.code = "bad_request";
    bad.exit_code = exit_usage;
    bad.message = "bad request from the client: " + msg.error.message;
    co_return local_verdict{bad, {}};
  }
  if (msg.value->command != proto::local_command::download) {
    if (msg.value->command != proto::local_command::cache_list && !may_manage_cache(c)) {
      proto::local_event refused;
      refused.event = proto::local_event_kind::error;
      refused.code = "permission_denied";
      refused.exit_code = exit_usage;
      refused.message = "removing cached tasks is for root and the daemon's own user (uid " +
                        std::to_string(::geteuid()) + ")";
      co_return local_verdict{refused, {}};
    }
    co_return local_verdict{tasks_.command(*msg.value), {}};
  }
  spdlog::debug("local download for uid {} (pid {}): {}", c.cred.uid, c.cred.pid,
                msg.value->identity.url);
  co_return co_await download(c, *msg.value);
}

bool local_api::may_manage_cache(const client& c) const {
  return c.cred.uid == 0 || c.cred.uid == ::geteuid();
}

asio::awaitable<local_verdict> local_api::download(client& c, const proto::local_request& req) {
  task_group pump(ex_, "progress pump");
  pump.spawn(pump_progress(c));
  // Named, not a temporary in the co_await: GCC 12 may destroy such temporaries twice.
  const local_progress relay = [&c](const proto::local_event& e) {
    c.latest = e;
    c.progress_changed.notify();
  };
  local_verdict verdict;
  std::exception_ptr cancelled;
  try {
    // Root and the daemon's own user can write its cache anyway: only they
    // may have the cached file itself as their output.
    verdict = co_await downloads_.run(req, std::move(c.output), relay, may_manage_cache(c));
  } catch (...) {
    cancelled = std::current_exception();  // the daemon is stopping
  }
  // One writer at a time on the socket: the pump finishes its line first,
  // and it refers to `c`, so it ends before this frame does.
  c.done = true;
  c.progress_changed.notify();
  c.pace.cancel();  // the verdict goes now, not after the pause between progress lines
  co_await asio::this_coro::throw_if_cancelled(false);  // join even when cancelled
  co_await pump.join();
  if (cancelled) std::rethrow_exception(cancelled);
  co_return verdict;
}

asio::awaitable<void> local_api::pump_progress(client& c) {
  while (!c.done && !c.broken) {
    if (!c.latest) {
      co_await c.progress_changed.wait();
      continue;
    }
    auto e = *c.latest;
    c.latest.reset();
    co_await send_event(c.sock, c.broken, e);
    if (c.done) break;
    c.pace.expires_after(std::chrono::milliseconds(200));
    co_await c.pace.async_wait(nothrow);
  }
}

}  // namespace damselfly::dfget
