// SPDX-License-Identifier: Apache-2.0
// bad_peer: a peer for tests that claims to hold every piece of a task and serves garbage.
//
// Usage: bad_peer --listen IP:PORT --supernode HOST:PORT --url URL --ready-file FILE
//                 [--unsigned | --refuse] [--claim PIECE] [--peer-id ID]
// It registers with the supernode like a daemon (holding everything), heartbeats,
// and answers every piece request with bytes that fail verification. To a child
// of the parent-set protocol it streams that it holds every piece, and signs
// its garbage with a signature of its own making (--unsigned: sends none, as
// a parent that got its pieces without one would). --refuse: answers every
// piece request 403 instead, as a parent still registered at a fleet's dead
// supernode answers tickets of its successor. --claim: children hear that it
// holds that one piece only (the supernode still that it holds all).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <string>

#include "damselfly/common/base64.hpp"
#include "damselfly/common/digest.hpp"
#include "damselfly/common/hex.hpp"
#include "damselfly/common/http_client.hpp"
#include "damselfly/common/http_range.hpp"
#include "damselfly/common/http_server.hpp"
#include "damselfly/proto/messages.hpp"

using namespace damselfly;
namespace asio = boost::asio;

namespace {

std::string arg(int argc, char** argv, const std::string& name) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return {};
}

bool flag(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i)
    if (argv[i] == name) return true;
  return false;
}

/// The task's piece count once registered (one thread: no lock).
std::int64_t pieces = -1;
/// Whether its garbage goes with a (forged) signed digest.
bool sign_garbage = true;
/// Whether every piece request is refused (403) instead.
bool refuse = false;
/// The one piece it claims to children (-1: every piece).
std::int64_t claim = -1;

/// "I hold everything" (or the one piece of --claim), then silence but for keep-alives.
class claim_everything : public http_stream {
 public:
  asio::awaitable<std::optional<std::string>> next() override {
    if (!started_) {
      started_ = true;
      std::string bits(static_cast<std::size_t>(pieces), claim < 0 ? '1' : '0');
      if (claim >= 0 && claim < pieces) bits[static_cast<std::size_t>(claim)] = '1';
      co_return "b " + bits + "\n";
    }
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(5));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return "\n";
  }

 private:
  bool started_ = false;
};

asio::awaitable<http_response> serve_garbage(http_request& req) {
  if (req.path().starts_with("/haves/")) {
    if (pieces < 0) co_return http_response::text(404, "not yet\n");
    http_response r;
    r.stream = std::make_shared<claim_everything>();
    co_return r;
  }
  if (refuse) {
    std::fprintf(stderr, "bad_peer: refused a piece request\n");
    co_return http_response::error(403, "bad_ticket", "not a ticket of this peer's supernode");
  }
  auto range_header = req.headers.get("Range");
  if (!range_header) co_return http_response::text(404, "no range\n");
  auto range = parse_range_header(*range_header, 1ull << 40);
  if (!range) co_return http_response::text(400, "bad range\n");
  http_response r;
  r.status = 206;
  r.body.assign(static_cast<std::size_t>(range->length), '\xAB');
  r.headers.set("Content-Range", "bytes " + std::to_string(range->offset) + "-" +
                                     std::to_string(range->end() - 1) + "/*");
  // The SHA-256 of its garbage, "signed" with 64 bytes of its own: well
  // formed, and a signature by nobody the child trusts.
  if (sign_garbage && req.headers.get("X-Damselfly-Want-Signed-Digest") == "1") {
    digest d(digest_algo::sha256);
    d.update(r.body);
    auto raw = from_hex(d.finish());
    r.headers.set("X-Damselfly-Signed-Digest",
                  to_base64(*raw) + "." + to_base64(std::string(64, '\x5A')));
  }
  co_return r;
}

asio::awaitable<void> announce(asio::io_context& io, host_port supernode, std::string url,
                               std::string upload_addr, std::string ready_file,
                               std::string peer_id) {
  http_client client(io.get_executor(), supernode.host, supernode.port);
  asio::steady_timer timer(io);
  proto::register_request reg;
  reg.identity.url = url;
  reg.peer_id = peer_id;
  reg.upload_addr = upload_addr;
  reg.upload_slots = 64;  // eager to serve
  http_request post;
  post.method = "POST";
  post.target = "/api/v1/tasks";
  post.headers.set("Content-Type", "application/json");
  proto::task_info info;
  for (int i = 0; i < 100 && info.piece_count < 0; ++i) {
    post.body = proto::encode(reg);
    auto resp = co_await client.fetch(post);
    if (resp && resp->head.status == 200) {
      auto d = proto::decode<proto::task_info>(resp->body);
      if (d) info = *d.value;
      // Registering again (to wait for the layout) needs the key just given.
      if (!info.peer_key.empty()) post.headers.set("X-Damselfly-Peer-Key", info.peer_key);
    }
    if (info.piece_count < 0) {
      timer.expires_after(std::chrono::milliseconds(200));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  if (info.piece_count < 0) {
    std::fprintf(stderr, "bad_peer: the task never got a layout\n");
    io.stop();
    co_return;
  }
  reg.bitmap.assign(static_cast<std::size_t>(info.piece_count), '1');
  pieces = info.piece_count;
  post.body = proto::encode(reg);
  co_await client.fetch(post);
  std::ofstream(ready_file) << info.task_id << "\n";
  for (int beat = 0; beat < 600; ++beat) {  // bounded: ten minutes at most
    proto::heartbeat_request hb;
    hb.upload_addr = upload_addr;
    hb.tasks = {info.task_id};
    hb.peer_keys = {{info.task_id, info.peer_key}};
    http_request hbreq;
    hbreq.method = "POST";
    hbreq.target = "/api/v1/hosts/" + peer_id + "/heartbeat";
    hbreq.body = proto::encode(hb);
    co_await client.fetch(hbreq);
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  io.stop();
}

}  // namespace

int main(int argc, char** argv) {
  auto listen = host_port::parse(arg(argc, argv, "--listen"));
  auto supernode = host_port::parse(arg(argc, argv, "--supernode"));
  auto url = arg(argc, argv, "--url");
  auto ready = arg(argc, argv, "--ready-file");
  if (!listen || !supernode || url.empty() || ready.empty()) {
    std::fprintf(stderr,
                 "usage: bad_peer --listen IP:PORT --supernode HOST:PORT --url URL --ready-file F "
                 "[--unsigned | --refuse] [--claim PIECE] [--peer-id ID]\n");
    return 2;
  }
  sign_garbage = !flag(argc, argv, "--unsigned");
  refuse = flag(argc, argv, "--refuse");
  if (auto c = arg(argc, argv, "--claim");
      !c.empty() && std::from_chars(c.data(), c.data() + c.size(), claim).ec != std::errc{}) {
    std::fprintf(stderr, "bad_peer: --claim takes a piece index\n");
    return 2;
  }
  auto peer_id = arg(argc, argv, "--peer-id");
  if (peer_id.empty()) peer_id = "bad-peer";
  asio::io_context io(1);
  http_server server(io.get_executor(), serve_garbage);
  if (!server.listen(listen->host, listen->port)) {
    std::fprintf(stderr, "bad_peer: cannot listen on %s\n", listen->to_string().c_str());
    return 1;
  }
  server.start();
  asio::co_spawn(io, announce(io, *supernode, url, listen->to_string(), ready, peer_id),
                 asio::detached);
  io.run();
  return 0;
}
