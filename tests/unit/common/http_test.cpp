// SPDX-License-Identifier: Apache-2.0
// HTTP server and client on loopback: routing, limits, malformed input, sendfile, deadlines.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/pkt_sched.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "damselfly/common/digest.hpp"
#include "damselfly/common/http_client.hpp"
#include "damselfly/common/http_range.hpp"
#include "damselfly/common/http_server.hpp"
#include "damselfly/common/io_context_pool.hpp"
#include "damselfly/common/origin_reader.hpp"
#include "damselfly/common/page_cache.hpp"
#include "damselfly/test_support/net.hpp"
#include "damselfly/test_support/temp_dir.hpp"

using namespace damselfly;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

/// An http_server on its own io_context thread.
class server_fixture : public ::testing::Test {
 protected:
  void start(http_handler handler, http_server_options opts = {}) {
    server_ = std::make_unique<http_server>(io_.get_executor(), std::move(handler), opts);
    auto p = server_->listen("127.0.0.1", 0);
    ASSERT_TRUE(p);
    port_ = *p;
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  /// Runs a client coroutine on the server's io_context and waits for it.
  template <class T>
  T client_call(asio::awaitable<T> op) {
    return asio::co_spawn(io_, std::move(op), asio::use_future).get();
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::unique_ptr<http_server> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

/// A file of `size` bytes that are not all alike, written to `d`/f, and its
/// content with a read-only descriptor of it.
std::pair<std::string, std::shared_ptr<const unique_fd>> patterned_file(const test::temp_dir& d,
                                                                        std::size_t size) {
  std::string data(size, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7) >> 3);
  std::ofstream(d / "f", std::ios::binary) << data;
  return {data, std::make_shared<const unique_fd>(::open((d / "f").c_str(), O_RDONLY))};
}

/// What `peer` receives until `needle` is in it, or it stops sending.
std::string read_until(test::held_connection& peer, const std::string& needle) {
  std::string got;
  for (int i = 0; i < 200 && got.find(needle) == std::string::npos; ++i) {
    auto more = peer.read_some(2s);
    if (more.empty()) break;
    got += more;
  }
  return got;
}

asio::awaitable<http_response> echo(http_request& req) {
  if (req.path() == "/throw") throw std::runtime_error("boom");
  auto r = http_response::text(200, req.method + " " + req.target + " " + req.body);
  r.headers.set("X-Query", std::string(req.query_param("q").value_or("none")));
  co_return r;
}

}  // namespace

TEST_F(server_fixture, AnswersAndKeepsConnectionsAlive) {
  start(echo);
  auto two = test::raw_http(
      port_,
      "GET /a?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz",
      5s);
  EXPECT_EQ(two.status, 200);
  EXPECT_EQ(two.header("X-Query"), "1");
  // Both answers arrived on one connection: the second follows the first body.
  EXPECT_NE(two.body.find("GET /a?q=1"), std::string::npos);
  EXPECT_NE(two.body.find("POST /b xyz"), std::string::npos);
}

TEST_F(server_fixture, HeadHasLengthButNoBody) {
  start(echo);
  auto r = test::raw_http(port_, "HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Length"), "8");
  EXPECT_TRUE(r.body.empty());
}

TEST_F(server_fixture, MalformedRequestsGetClearErrors) {
  http_server_options o;
  o.max_header_bytes = 1024;
  o.max_body_bytes = 16;
  start(echo, o);
  EXPECT_EQ(test::raw_http(port_, "THIS IS NOT HTTP\r\n\r\n").status, 400);
  EXPECT_EQ(test::raw_http(port_, "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n").status, 400);
  std::string big_header = "GET / HTTP/1.1\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n";
  EXPECT_EQ(test::raw_http(port_, big_header).status, 431);
  auto big_body = "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b');
  auto r = test::raw_http(port_, big_body);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
}

TEST_F(server_fixture, HandlerExceptionsBecome500) {
  start(echo);
  EXPECT_EQ(test::http_get(port_, "/throw").status, 500);
  EXPECT_EQ(test::http_get(port_, "/fine").status, 200);  // the server carries on
}

TEST_F(server_fixture, FileSlicesAreSentWhole) {
  test::temp_dir d;
  auto [data, fd] = patterned_file(d, 3 << 20);
  std::atomic<std::uint64_t> sent{0};
  start([&](http_request&) -> asio::awaitable<http_response> {
    http_response r;
    r.status = 206;
    r.file = file_slice{fd, 1000, data.size() - 2000, [&](std::uint64_t n) { sent += n; }, {}};
    co_return r;
  });
  auto r = test::http_get(port_, "/");
  EXPECT_EQ(r.status, 206);
  ASSERT_EQ(r.body.size(), data.size() - 2000);
  EXPECT_TRUE(r.body == data.substr(1000, data.size() - 2000));
  for (int i = 0; i < 100 && sent.load() != data.size() - 2000; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(sent.load(), data.size() - 2000);
}

TEST_F(server_fixture, FileSlicesOnTheDiskOnlyAreReadInAndSentWhole) {
  // A daemon's pieces are written past the page cache: the first peer to
  // ask for one gets it from the disk, read in on the server's disk threads.
  test::temp_dir d;
  auto [data, fd] = patterned_file(d, 5 << 20);
  ASSERT_EQ(::fdatasync(fd->get()), 0);
  ASSERT_EQ(::posix_fadvise(fd->get(), 0, 0, POSIX_FADV_DONTNEED), 0);
  if (in_page_cache(fd->get(), 0, data.size()))
    GTEST_SKIP() << "this file system keeps every page in memory (tmpfs?)";
  start([&](http_request& req) -> asio::awaitable<http_response> {
    http_response r;
    r.status = 206;
    r.file = req.path() == "/paced"
                 ? file_slice{fd,
                              3 << 20,
                              1 << 20,
                              {},
                              [](std::uint64_t) { return std::chrono::nanoseconds(0); }}
                 : file_slice{fd, 4096, 2 << 20, {}, {}};
    co_return r;
  });
  auto r = test::http_get(port_, "/");
  ASSERT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == data.substr(4096, 2 << 20));
  EXPECT_TRUE(in_page_cache(fd->get(), 4096, 2 << 20));
  auto paced = test::http_get(port_, "/paced");  // sent in small chunks, read in once
  ASSERT_EQ(paced.status, 206);
  EXPECT_TRUE(paced.body == data.substr(3 << 20, 1 << 20));
}

TEST_F(server_fixture, PacedFileSlicesAskBeforeEveryChunkAndWait) {
  test::temp_dir d;
  std::string data(1 << 20, 'p');
  std::ofstream(d / "f", std::ios::binary) << data;
  auto fd = std::make_shared<const unique_fd>(::open((d / "f").c_str(), O_RDONLY));
  std::atomic<std::uint64_t> asked{0};
  std::atomic<std::uint64_t> largest{0};
  start([&](http_request&) -> asio::awaitable<http_response> {
    http_response r;
    r.file = file_slice{fd, 0, data.size(), {}, [&](std::uint64_t bytes) {
                          asked += bytes;
                          largest = std::max<std::uint64_t>(largest, bytes);
                          return std::chrono::nanoseconds(std::chrono::milliseconds(10));
                        }};
    co_return r;
  });
  auto started = std::chrono::steady_clock::now();
  auto r = test::http_get(port_, "/");
  ASSERT_EQ(r.body.size(), data.size());
  EXPECT_EQ(asked.load(), data.size());  // every byte was paid for exactly once
  EXPECT_LE(largest.load(), 64u << 10);  // in small chunks
  // 16 chunks, each preceded by the 10 ms the pace asked for.
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(160));
}

TEST_F(server_fixture, AnUploadUntilAckedEndsOnlyOnceThePeerHasReadEveryByte) {
  // A parent's upload to a child of the parent-set protocol holds its slot
  // until the child has the piece: the peer here asks for 8 KiB and does
  // not read for 300 ms. Sent plainly, the send ends at once (the bytes fit
  // in the sockets' buffers); until acknowledged, only after the reading.
  test::temp_dir d;
  auto [data, fd] = patterned_file(d, 8 << 10);
  std::atomic<std::int64_t> ended_at{0};
  auto now = [] { return std::chrono::steady_clock::now().time_since_epoch().count(); };
  start([&](http_request& req) -> asio::awaitable<http_response> {
    http_response r;
    r.status = 206;
    r.file = file_slice{fd, 0, data.size(), [&](std::uint64_t) { ended_at = now(); }, {}};
    r.file->until_acked = req.path() == "/acked";
    co_return r;
  });
  for (bool acked : {false, true}) {
    SCOPED_TRACE(acked ? "until acknowledged" : "plain");
    ended_at = 0;
    test::held_connection peer(port_, 2048);
    ASSERT_TRUE(peer.connected());
    ASSERT_TRUE(peer.send(std::string("GET ") + (acked ? "/acked" : "/plain") +
                          " HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::this_thread::sleep_for(300ms);
    const bool ended_unread = ended_at.load() != 0;
    const auto read_from = now();
    auto got = read_until(peer, data);
    EXPECT_NE(got.find(data), std::string::npos) << "the piece arrived whole";
    for (int i = 0; i < 200 && ended_at.load() == 0; ++i) std::this_thread::sleep_for(5ms);
    ASSERT_NE(ended_at.load(), 0) << "the send ended";
    EXPECT_EQ(ended_unread, !acked);
    if (acked) {
      EXPECT_GE(ended_at.load(), read_from);
    }
  }
}

namespace {

/// SO_PRIORITY of this process's socket from local port `local` to peer
/// port `peer` on loopback (-1: none found): what the host's queue sees.
int socket_priority(std::uint16_t local, std::uint16_t peer) {
  int fd = test::socket_between(local, peer);
  int priority = -1;
  socklen_t lp = sizeof priority;
  return fd >= 0 && ::getsockopt(fd, SOL_SOCKET, SO_PRIORITY, &priority, &lp) == 0 ? priority : -1;
}

/// Segments with data that socket has sent so far (-1: none found).
long segments_out(std::uint16_t local, std::uint16_t peer) {
  return test::tcp_data_segments_out(test::socket_between(local, peer));
}

std::uint16_t remote_port(const http_request& req) {
  return static_cast<std::uint16_t>(std::stoi(req.remote.substr(req.remote.rfind(':') + 1)));
}

}  // namespace

TEST_F(server_fixture, AFilesBytesGoAtBulkPriorityAndWhatFollowsOnTheConnectionDoesNot) {
  // Under the host's default queue discipline (pfifo_fast), a request or an
  // answer queued behind pieces waited tens of milliseconds in a swarm; file
  // bytes go at bulk priority, everything else at the normal one, on the
  // same connection too.
  test::temp_dir d;
  auto [data, fd] = patterned_file(d, 64 << 10);
  std::atomic<int> before{-2}, during{-2}, after{-2};
  start([&](http_request& req) -> asio::awaitable<http_response> {
    const auto client = remote_port(req);
    if (req.path() != "/file") {
      after = socket_priority(port_, client);
      co_return http_response::text(200, "after\n");
    }
    before = socket_priority(port_, client);
    http_response r;
    r.status = 200;
    r.file = file_slice{fd, 0, data.size(), {}, [&, client](std::uint64_t) {
                          if (during == -2) during = socket_priority(port_, client);
                          return std::chrono::nanoseconds(0);
                        }};
    co_return r;
  });
  test::held_connection peer(port_);
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.send("GET /file HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(read_until(peer, data).find(data), std::string::npos) << "the file arrived whole";
  ASSERT_TRUE(peer.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(read_until(peer, "after\n").find("after\n"), std::string::npos);
  EXPECT_EQ(before.load(), 0);
  EXPECT_EQ(during.load(), TC_PRIO_BULK);
  EXPECT_EQ(after.load(), 0) << "an answer after the file on the same connection";
}

TEST_F(server_fixture, AFilesHeaderLeavesInOnePacketWithItsBytes) {
  // The header of a file answer went as a packet of its own, then the file:
  // with 64 KiB pieces one packet in nine of a swarm's, each also received,
  // acknowledged and woken for. Header and a small file: one segment.
  test::temp_dir d;
  auto [data, fd] = patterned_file(d, 1000);
  std::atomic<long> before{-2};
  std::atomic<std::uint16_t> client{0};
  start([&](http_request& req) -> asio::awaitable<http_response> {
    client = remote_port(req);
    before = segments_out(port_, client);
    http_response r;
    r.status = 200;
    r.file = file_slice{fd, 0, data.size(), {}, {}};
    co_return r;
  });
  test::held_connection peer(port_);
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(peer.send("GET /file HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(read_until(peer, data).find(data), std::string::npos) << "the file arrived whole";
  ASSERT_GE(before.load(), 0) << "the server's socket was not found";
  EXPECT_EQ(segments_out(port_, client) - before.load(), 1) << "header and file in one segment";
}

/// Connections on threads of their own (a context each), handlers on one
/// thread of their own: the shape of a supernode with connection threads.
struct pooled_server {
  asio::io_context state;
  /// Keeps state.run() going with no connection open; dropped on destruction.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  io_context_pool pool{3};
  std::unique_ptr<http_server> server;
  std::uint16_t port = 0;
  std::thread state_thread;

  explicit pooled_server(http_handler handler, std::function<void(http_request&)> prepare = {}) {
    http_server_options o;
    o.handler_executor = state.get_executor();
    o.connection_executors = pool.executors();
    o.prepare = std::move(prepare);
    server = std::make_unique<http_server>(pool.executors().front(), std::move(handler), o);
    auto p = server->listen("127.0.0.1", 0);
    if (p) port = *p;
    server->start();
  }
  ~pooled_server() {
    server->close_all();
    guard.reset();
    // Returns once the last session is gone (the server counts work there).
    if (state_thread.joinable()) state_thread.join();
    pool.stop();
    pool.join();
  }
};

TEST(pooled_server_test, HandlersAndWhatTheirAnswersHoldStayOnTheHandlersThread) {
  test::temp_dir d;
  auto [data, fd] = patterned_file(d, 64 << 10);
  // Touched by the handler, its slices' on_sent and their release only;
  // were any of them run on a pool thread, the thread checks below fail.
  std::thread::id state_id;
  std::atomic<int> handled{0}, elsewhere{0}, sent{0}, released{0};
  auto on_state = [&] {
    if (std::this_thread::get_id() != state_id) ++elsewhere;
  };
  pooled_server s([&, fd = fd](http_request& req) -> asio::awaitable<http_response> {
    on_state();
    ++handled;
    if (req.path() != "/file") co_return http_response::text(200, "hello");
    http_response r;
    r.status = 200;
    auto held = std::shared_ptr<void>(nullptr, [&](void*) {
      on_state();
      ++released;
    });
    r.file = file_slice{fd,
                        0,
                        4096,
                        [&, held](std::uint64_t n) {
                          on_state();
                          if (n == 4096) ++sent;
                        },
                        {}};
    co_return r;
  });
  ASSERT_NE(s.port, 0);
  s.guard.emplace(s.state.get_executor());
  std::promise<void> started;
  s.state_thread = std::thread([&] {
    state_id = std::this_thread::get_id();
    started.set_value();
    s.state.run();
  });
  started.get_future().wait();
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto r = test::http_get(s.port, i % 2 ? "/file" : "/text");
        if ((i % 2 && r.status == 200 && r.body == data.substr(0, 4096)) ||
            (!(i % 2) && r.status == 200 && r.body == "hello"))
          ++good;
      }
    });
  for (auto& t : clients) t.join();
  for (int i = 0; i < 200 && released.load() < 40; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(good.load(), 80);
  EXPECT_EQ(handled.load(), 80);
  EXPECT_EQ(sent.load(), 40);
  EXPECT_EQ(released.load(), 40);
  EXPECT_EQ(elsewhere.load(), 0);
}

TEST(pooled_server_test, EachConnectionStaysOnTheThreadItBeganOnAndConnectionsTakeTurns) {
  // Six connections of five requests each: every request of a connection
  // is read on one thread (its prepare hook runs there), though each
  // handler runs on the handlers' thread in between; the six share the
  // three connection threads in turn.
  std::mutex mu;
  std::map<std::string, std::set<std::thread::id>> threads_of;
  pooled_server s(
      [](http_request&) -> asio::awaitable<http_response> {
        co_return http_response::text(200, "hello");
      },
      [&](http_request& req) {
        std::lock_guard lock(mu);
        threads_of[req.remote].insert(std::this_thread::get_id());
      });
  ASSERT_NE(s.port, 0);
  s.guard.emplace(s.state.get_executor());
  s.state_thread = std::thread([&] { s.state.run(); });
  std::string five;
  for (int i = 0; i < 4; ++i) five += "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  five += "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  for (int c = 0; c < 6; ++c) {
    auto r = test::raw_http(s.port, five, 5s);
    EXPECT_EQ(r.status, 200);
  }
  std::lock_guard lock(mu);
  ASSERT_EQ(threads_of.size(), 6u);
  std::set<std::thread::id> all;
  for (const auto& [remote, ids] : threads_of) {
    EXPECT_EQ(ids.size(), 1u) << remote << " was read on " << ids.size() << " threads";
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), 3u);
}

TEST(pooled_server_test, TheHandlersContextRunsWhileAConnectionIsOpen) {
  pooled_server s([](http_request&) -> asio::awaitable<http_response> {
    co_return http_response::text(200, "hello");
  });
  ASSERT_NE(s.port, 0);
  test::held_connection idle(s.port);
  ASSERT_TRUE(idle.connected());
  // The accept lands on a pool thread: give it a moment to count.
  std::this_thread::sleep_for(100ms);
  std::atomic<bool> returned{false};
  s.state_thread = std::thread([&] {
    s.state.run();
    returned = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(returned.load()) << "run() of the handlers' context ended with a connection open";
  // A request on that connection is still handled on it.
  ASSERT_TRUE(idle.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_NE(idle.read_some(2s).find("hello"), std::string::npos);
  EXPECT_TRUE(idle.closed_by_server(2s));
  for (int i = 0; i < 200 && !returned.load(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(returned.load()) << "run() went on after the last connection ended";
}

TEST_F(server_fixture, IdleConnectionsAreClosed) {
  http_server_options o;
  o.idle_timeout = 200ms;
  start(echo, o);
  auto started = std::chrono::steady_clock::now();
  auto r = test::raw_http(port_, "", 5s);  // connect, send nothing, wait for the close
  EXPECT_EQ(r.status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST_F(server_fixture, ClientFetchesStreamsAndReconnects) {
  http_server_options o;
  o.idle_timeout = 100ms;  // the server drops kept-alive connections quickly
  start(echo, o);
  http_client client(io_.get_executor(), "127.0.0.1", port_);
  http_request req;
  req.method = "POST";
  req.target = "/x?q=7";
  req.body = "payload";
  auto first = client_call(client.fetch(req));
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->head.status, 200);
  EXPECT_EQ(first->body, "POST /x?q=7 payload");
  std::this_thread::sleep_for(300ms);  // server has closed the idle connection by now
  std::string streamed;
  auto second = client_call(client.request(
      req,
      [](const response_head& h) {
        return h.status == 200 ? error_code{} : error_code(errc::protocol_error);
      },
      [&](std::span<const std::byte> c) {
        streamed.append(reinterpret_cast<const char*>(c.data()), c.size());
        return error_code{};
      }));
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(streamed, "POST /x?q=7 payload");
}

TEST_F(server_fixture, StreamedBodiesReachTheClientPartByPartAsTheyAreProduced) {
  // The producer gives its second part only once the client has seen the
  // first (it polls what the sink received, 5 s at most): a client that
  // waited for the whole body, or a server that held parts back, gets
  // "late" instead. The connection then serves another request.
  std::mutex mu;
  std::string seen;
  auto seen_now = [&] {
    std::lock_guard lock(mu);
    return seen;
  };
  start([&](http_request& req) -> asio::awaitable<http_response> {
    if (req.path() != "/stream") co_return http_response::text(200, "plain");
    struct two_parts : http_stream {
      std::function<std::string()> seen;
      int parts = 0;
      asio::awaitable<std::optional<std::string>> next() override {
        switch (parts++) {
          case 0:
            co_return "one\n";
          case 1: {
            asio::steady_timer t(co_await asio::this_coro::executor);
            for (int i = 0; i < 500 && seen() != "one\n"; ++i) {
              t.expires_after(10ms);
              co_await t.async_wait(asio::use_awaitable);
            }
            co_return seen() == "one\n" ? "two\n" : "late\n";
          }
          case 2:
            co_return "";  // nothing yet: asked again
          default:
            co_return std::nullopt;
        }
      }
    };
    auto producer = std::make_shared<two_parts>();
    producer->seen = seen_now;
    http_response r;
    r.stream = producer;
    co_return r;
  });
  http_client client(io_.get_executor(), "127.0.0.1", port_);
  http_request req;
  req.target = "/stream";
  auto head = client_call(client.request(req, {}, [&](std::span<const std::byte> c) {
    std::lock_guard lock(mu);
    seen.append(reinterpret_cast<const char*>(c.data()), c.size());
    return error_code{};
  }));
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->status, 200);
  EXPECT_FALSE(head->content_length);
  EXPECT_EQ(seen_now(), "one\ntwo\n");
  req.target = "/plain";
  auto again = client_call(client.fetch(req));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->body, "plain");
}

TEST_F(server_fixture, AClientRefusingAShortAnswerKeepsTheConnectionForTheNext) {
  // A busy peer's 503, refused by the caller's check: its short body is read
  // and the next request goes on the same connection (the server counts the
  // connections it accepted). A long refused body still drops it.
  std::mutex mu;
  std::set<std::string> remotes;
  start([&](http_request& req) -> asio::awaitable<http_response> {
    {
      std::lock_guard lock(mu);
      remotes.insert(req.remote);
    }
    if (req.path() == "/busy") co_return http_response::error(503, "busy", "all upload slots busy");
    if (req.path() == "/long") co_return http_response::text(503, std::string(100000, 'x'));
    co_return http_response::text(200, "ok");
  });
  http_client client(io_.get_executor(), "127.0.0.1", port_);
  const head_check only_200 = [](const response_head& h) {
    return h.status == 200 ? error_code{} : error_code(errc::protocol_error);
  };
  auto ask = [&](const std::string& target) {
    http_request req;
    req.target = target;
    return client_call(client.request(req, only_200, {}));
  };
  EXPECT_FALSE(ask("/busy"));
  EXPECT_TRUE(ask("/ok"));
  EXPECT_FALSE(ask("/busy"));
  EXPECT_TRUE(ask("/ok"));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(remotes.size(), 1u) << "a connection per busy answer";
  }
  EXPECT_FALSE(ask("/long"));
  EXPECT_TRUE(ask("/ok"));
  std::lock_guard lock(mu);
  EXPECT_EQ(remotes.size(), 2u);
}

TEST_F(server_fixture, AConnectionKeepsTheFieldsTheServerNamesForItsLaterRequests) {
  // X-Token is kept: a request that leaves it out is handled with the value
  // last sent on its connection, the first answer says so, and X-Other is
  // not kept. A new connection starts with nothing: leaving the token out
  // there gets none.
  http_server_options o;
  o.kept_headers = {"X-Token"};
  start(
      [](http_request& req) -> asio::awaitable<http_response> {
        co_return http_response::text(
            200, "[" + req.target + ":" + std::string(req.headers.get("X-Token").value_or("none")) +
                     ":" + std::string(req.headers.get("X-Other").value_or("none")) + "]");
      },
      o);
  auto four = test::raw_http(port_,
                             "GET /a HTTP/1.1\r\nHost: x\r\nX-Token: t1\r\nX-Other: o\r\n\r\n"
                             "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /c HTTP/1.1\r\nHost: x\r\nX-Token: t2\r\n\r\n"
                             "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                             5s);
  EXPECT_EQ(four.status, 200);
  EXPECT_EQ(four.header(std::string(kept_headers_header)), "X-Token");
  EXPECT_NE(four.body.find("[/a:t1:o]"), std::string::npos) << four.body;
  EXPECT_NE(four.body.find("[/b:t1:none]"), std::string::npos) << four.body;
  EXPECT_NE(four.body.find("[/c:t2:none]"), std::string::npos) << four.body;
  EXPECT_NE(four.body.find("[/d:t2:none]"), std::string::npos) << four.body;
  auto fresh = test::raw_http(port_, "GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5s);
  EXPECT_NE(fresh.body.find("[/e:none:none]"), std::string::npos) << fresh.body;
}

TEST_F(server_fixture, AClientLeavesOutOnlyWhatItsConnectionKeepsAndAlreadyHas) {
  // The handler plays a server that keeps X-Token when asked at /keeps (it
  // says so, and keeps nothing: what it sees is what crossed the wire).
  std::mutex mu;
  std::vector<std::string> seen;
  start([&](http_request& req) -> asio::awaitable<http_response> {
    {
      std::lock_guard lock(mu);
      seen.push_back(req.target + ":" + std::string(req.headers.get("X-Token").value_or("none")) +
                     ":" + std::string(req.headers.get("X-Other").value_or("none")));
    }
    auto r = http_response::text(200, "ok");
    if (req.path() == "/keeps") r.headers.set(kept_headers_header, "x-token");
    co_return r;
  });
  auto send = [&](http_client& c, const std::string& target, const std::string& token) {
    http_request req;
    req.target = target;
    req.headers.set("X-Token", token);
    req.headers.set("X-Other", "o");
    auto r = client_call(c.fetch(req));
    ASSERT_TRUE(r);
  };
  http_client client(io_.get_executor(), "127.0.0.1", port_);
  send(client, "/keeps", "t1");  // sent whole: nothing is known to be kept yet
  send(client, "/keeps", "t1");  // kept, and sent here with this value: left out
  send(client, "/keeps", "t2");  // another value: sent
  send(client, "/keeps", "t2");
  client.close();
  send(client, "/keeps", "t2");  // a new connection has nothing: sent
  http_client plain(io_.get_executor(), "127.0.0.1", port_);
  send(plain, "/plain", "t1");  // a server that never says it keeps gets everything
  send(plain, "/plain", "t1");
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, (std::vector<std::string>{"/keeps:t1:o", "/keeps:none:o", "/keeps:t2:o",
                                            "/keeps:none:o", "/keeps:t2:o", "/plain:t1:o",
                                            "/plain:t1:o"}));
}

TEST_F(server_fixture, ClientAndServerTogetherHandEveryRequestItsKeptFields) {
  http_server_options o;
  o.kept_headers = {"X-Token"};
  std::mutex mu;
  std::vector<std::string> seen;
  start(
      [&](http_request& req) -> asio::awaitable<http_response> {
        std::lock_guard lock(mu);
        seen.emplace_back(req.headers.get("X-Token").value_or("none"));
        co_return http_response::text(200, "ok");
      },
      o);
  http_client client(io_.get_executor(), "127.0.0.1", port_);
  for (const char* token : {"t1", "t1", "t1", "t2", "t2"}) {
    http_request req;
    req.headers.set("X-Token", token);
    ASSERT_TRUE(client_call(client.fetch(req)));
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, (std::vector<std::string>{"t1", "t1", "t1", "t2", "t2"}));
}

TEST_F(server_fixture, ClientRejectsOversizedBodies) {
  start(echo);
  http_client client(io_.get_executor(), "127.0.0.1", port_);
  http_request req;
  req.target = "/long-enough-target";
  auto r = client_call(client.fetch(req, 4));
  EXPECT_FALSE(r);
}

TEST_F(server_fixture, ClientTimesOutOnASilentServer) {
  start(echo);
  // A listener that accepts but never answers.
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  http_client_options o;
  o.io_timeout = 300ms;
  http_client client(io_.get_executor(), "127.0.0.1", ntohs(addr.sin_port), o);
  auto started = std::chrono::steady_clock::now();
  auto r = client_call(client.fetch(http_request{}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ::close(lfd);
}

TEST_F(server_fixture, ClientReportsRefusedConnections) {
  start(echo);
  http_client client(io_.get_executor(), "127.0.0.1", test::free_port());
  auto r = client_call(client.fetch(http_request{}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), asio::error::connection_refused);
}

TEST_F(server_fixture, OriginPiecesAreHashedAndStoredOnTheDataPoolNotTheReadersThread) {
  // The supernode's one I/O thread receives from origins and serves clients;
  // hashing and writing an origin's pieces there held every client up.
  std::string file((5 << 20) + 12345, '\0');
  for (std::size_t i = 0; i < file.size(); ++i) file[i] = static_cast<char>((i * 31) >> 5);
  start([&](http_request& req) -> asio::awaitable<http_response> {
    auto range = parse_range_header(req.headers.get("Range").value_or(""), file.size());
    if (!range) co_return http_response::text(416, "");
    auto r = http_response::text(206, file.substr(range->offset, range->length));
    r.headers.set("Content-Range", format_content_range(*range, file.size()));
    co_return r;
  });
  std::thread::id reader_thread;
  client_call([&]() -> asio::awaitable<void> {
    reader_thread = std::this_thread::get_id();
    co_return;
  }());
  auto url = http_url::parse("http://127.0.0.1:" + std::to_string(port_) + "/f");
  ASSERT_TRUE(url);

  for (bool pooled : {true, false}) {
    SCOPED_TRACE(pooled ? "with a data pool" : "without");
    asio::thread_pool pool(2);
    origin_reader_options o;
    o.sizing.fixed_size = 256 << 10;
    if (pooled) o.io_pool = pool.get_executor();
    origin_reader reader(io_.get_executor(), *url, {}, o);
    std::mutex m;
    std::string stored(file.size(), '\0');
    std::size_t chunks = 0, chunks_on_reader = 0;
    std::map<std::uint64_t, std::string> digests;
    bool pieces_on_reader = true;
    origin_sink sink;
    sink.on_layout = [](const origin_layout&) { return error_code{}; };
    sink.on_data = [&](std::uint64_t offset, std::span<const std::byte> data) {
      std::lock_guard lock(m);
      ++chunks;
      if (std::this_thread::get_id() == reader_thread) ++chunks_on_reader;
      std::memcpy(stored.data() + offset, data.data(), data.size());
      return error_code{};
    };
    sink.on_piece = [&](std::uint64_t index, std::string sha) {
      pieces_on_reader = pieces_on_reader && std::this_thread::get_id() == reader_thread;
      digests[index] = std::move(sha);
    };
    auto r = client_call(reader.fetch(sink));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_TRUE(stored == file);
    ASSERT_EQ(digests.size(), 21u);  // 20 whole pieces and a short one
    for (const auto& [index, sha] : digests)
      EXPECT_EQ(sha, sha256_hex(std::string_view(file).substr(index << 18, 256 << 10)))
          << "piece " << index;
    EXPECT_TRUE(pieces_on_reader) << "the task's state is the reader's thread's";
    EXPECT_GT(chunks, 0u);
    EXPECT_EQ(chunks_on_reader, pooled ? 0u : chunks);

    // A stopping supernode ends the transfers on the pool with its flag: the
    // fetch fails, it never looks complete.
    std::atomic<bool> abort{false};
    o.abort = &abort;
    origin_reader aborted(io_.get_executor(), *url, {}, o);
    std::size_t pieces = 0;
    sink.on_data = [&](std::uint64_t, std::span<const std::byte>) {
      abort = true;
      return error_code{};
    };
    sink.on_piece = [&](std::uint64_t, std::string) { ++pieces; };
    auto stopped = client_call(aborted.fetch(sink));
    EXPECT_EQ(stopped.ec, errc::cancelled);
    EXPECT_LT(pieces, 21u);
  }
}

TEST_F(server_fixture, AnOriginIsAskedForRunsOfPiecesAndABrokenRunGoesOnFromItsFirstPieceNotWhole) {
  // One Range request per piece waited a round trip per piece: 4 x 64 KiB
  // per round trip, 5 MB/s from an origin 50 ms away. The reader asks for
  // runs of pieces; a run broken off mid-way (here its first answer ends
  // after 2.5 pieces) keeps its whole pieces, and the next request asks from
  // the first piece that is not whole.
  constexpr std::size_t piece = 16 << 10, pieces = 64;
  std::string file(pieces * piece, '\0');
  for (std::size_t i = 0; i < file.size(); ++i) file[i] = static_cast<char>((i * 131) >> 7);
  std::mutex mu;
  std::vector<piece_range> asked;
  bool broke = false;
  start([&](http_request& req) -> asio::awaitable<http_response> {
    auto range = parse_range_header(req.headers.get("Range").value_or(""), file.size());
    if (!range) co_return http_response::text(416, "");
    bool break_this = false;
    {
      std::lock_guard lock(mu);
      asked.push_back(*range);
      // The first run longer than three pieces is cut after two and a half.
      break_this = !broke && range->length > 3 * piece;
      broke = broke || break_this;
    }
    if (!break_this) {
      auto r = http_response::text(206, file.substr(range->offset, range->length));
      r.headers.set("Content-Range", format_content_range(*range, file.size()));
      co_return r;
    }
    struct cut_short : http_stream {
      std::string part;
      bool sent = false;
      asio::awaitable<std::optional<std::string>> next() override {
        if (sent) co_return std::nullopt;
        sent = true;
        co_return part;
      }
    };
    auto cut = std::make_shared<cut_short>();
    cut->part = file.substr(range->offset, piece * 5 / 2);
    http_response r;
    r.status = 206;
    r.headers.set("Content-Range", format_content_range(*range, file.size()));
    r.stream = cut;
    co_return r;
  });
  auto url = http_url::parse("http://127.0.0.1:" + std::to_string(port_) + "/f");
  ASSERT_TRUE(url);
  origin_reader_options o;
  o.sizing.fixed_size = piece;
  o.concurrency = 2;
  std::map<std::uint64_t, int> told;  // piece -> times on_piece came
  std::map<std::uint64_t, std::string> digests;
  std::string stored(file.size(), '\0');
  origin_sink sink;
  sink.on_layout = [](const origin_layout&) { return error_code{}; };
  sink.on_data = [&](std::uint64_t offset, std::span<const std::byte> data) {
    std::memcpy(stored.data() + offset, data.data(), data.size());
    return error_code{};
  };
  sink.on_piece = [&](std::uint64_t index, std::string sha) {
    ++told[index];
    digests[index] = std::move(sha);
  };
  origin_reader reader(io_.get_executor(), *url, {}, o);
  auto r = client_call(reader.fetch(sink));
  ASSERT_FALSE(r.ec) << r.ec.message() << " " << r.detail;
  EXPECT_TRUE(stored == file);
  ASSERT_EQ(digests.size(), pieces);
  for (const auto& [index, sha] : digests) {
    EXPECT_EQ(told[index], 1) << "piece " << index;
    EXPECT_EQ(sha, sha256_hex(std::string_view(file).substr(index * piece, piece)))
        << "piece " << index;
  }
  std::vector<piece_range> runs;
  {
    std::lock_guard lock(mu);
    ASSERT_TRUE(broke);
    runs.assign(asked.begin() + 1, asked.end());  // the first is the probe's byte
  }
  EXPECT_LT(runs.size(), pieces / 3) << "about one request per piece";
  auto cut = std::find_if(runs.begin(), runs.end(), [&](auto& a) { return a.length > 3 * piece; });
  ASSERT_NE(cut, runs.end());
  piece_range rest{cut->offset + 2 * piece, cut->length - 2 * piece};
  EXPECT_TRUE(std::any_of(cut + 1, runs.end(), [&](auto& a) { return a == rest; }))
      << "the run's rest is asked from its first piece not whole";

  // With a rate cap every request is one piece: the cap is asked for each.
  {
    std::lock_guard lock(mu);
    asked.clear();
  }
  std::size_t paced = 0;
  sink.pace = [&](std::uint64_t bytes) {
    paced += bytes;
    return std::chrono::nanoseconds(0);
  };
  told.clear();
  origin_reader capped(io_.get_executor(), *url, {}, o);
  auto c = client_call(capped.fetch(sink));
  ASSERT_FALSE(c.ec) << c.ec.message();
  EXPECT_EQ(told.size(), pieces);
  EXPECT_EQ(paced, file.size());
  std::lock_guard lock(mu);
  EXPECT_EQ(asked.size(), pieces + 1);
}

TEST(HostPort, ParsesAndFormats) {
  auto a = host_port::parse("127.0.0.1:8002");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8002);
  auto b = host_port::parse("[::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->to_string(), "[::1]:0");
  for (const char* bad : {"", "host", ":80", "h:", "h:70000", "::1:80", "[::1]80", "h:8x"})
    EXPECT_FALSE(host_port::parse(bad)) << bad;
}

TEST(HttpHeaders, CaseInsensitiveSetAndGet) {
  http_headers h;
  h.add("Content-Type", "a");
  h.add("content-type", "b");
  EXPECT_EQ(*h.get("CONTENT-TYPE"), "a");
  h.set("Content-type", "c");
  EXPECT_EQ(h.fields().size(), 1u);
  EXPECT_EQ(*h.get("content-type"), "c");
  EXPECT_FALSE(h.get("missing"));
}

TEST(HttpDate, ReadsTheThreeFormsOfRfc9110AndNothingElse) {
  // The example instant of RFC 9110, section 5.6.7, in each of its spellings.
  constexpr std::int64_t example = 784111777;
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), example);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), example);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), example);
  EXPECT_FALSE(parse_http_date(""));
  EXPECT_FALSE(parse_http_date("yesterday"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing"));
  EXPECT_FALSE(parse_http_date(std::string(200, 'a')));
}
