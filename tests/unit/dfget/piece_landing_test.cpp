// SPDX-License-Identifier: Apache-2.0
// A piece hashed slice by slice as it lands: any order of slices, any thread, the same digest.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "damselfly/common/digest.hpp"
#include "piece_landing.hpp"

using namespace damselfly;
using damselfly::dfget::piece_landing;

namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 37) ^ (i >> 9));
  return s;
}

/// The first `upto` bytes of `data` land in `p`, as the I/O thread lands them.
void land(piece_landing& p, const std::string& data, std::size_t upto) {
  std::memcpy(p.buf.prepare(data.size()).data(), data.data(), upto);
  p.landed.store(upto, std::memory_order_release);
}

}  // namespace

TEST(PieceLanding, SlicesCalledLateTwiceOrForNothingStillGiveThePiecesDigest) {
  auto data = pattern((3 << 20) + 777);
  piece_landing p;
  p.buf.prepare(data.size());
  p.hash_landed();  // nothing landed yet: a slice queued too early hashes nothing
  land(p, data, 1 << 20);
  p.hash_landed();
  p.hash_landed();  // a second slice for the same bytes
  land(p, data, (2 << 20) + 5);
  land(p, data, data.size());  // two landings before their slices run
  p.hash_landed();
  p.hash_landed();
  EXPECT_EQ(p.finish(), sha256_hex(data));
}

TEST(PieceLanding, SlicesOnManyThreadsAtOnceGiveThePiecesDigest) {
  auto data = pattern(8 << 20);
  piece_landing p;
  auto dest = p.buf.prepare(data.size());
  std::vector<std::thread> workers;
  for (std::size_t at = 0; at < data.size(); at += 256 << 10) {
    std::memcpy(dest.data() + at, data.data() + at, 256 << 10);
    p.landed.store(at + (256 << 10), std::memory_order_release);
    workers.emplace_back([&p] { p.hash_landed(); });
  }
  for (auto& w : workers) w.join();
  p.hash_landed();  // what the verdict does: the rest, if any slice ran early
  EXPECT_EQ(p.finish(), sha256_hex(data));
}
