// SPDX-License-Identifier: Apache-2.0
// The one line dfget prints after a download, and byte counts for people.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace damselfly::dfget {

/// "1.5 MiB": binary units, one decimal above bytes.
std::string human_bytes(double bytes);

/// Where a download's bytes came from, for the summary line.
struct download_totals {
  std::uint64_t bytes = 0;
  std::chrono::milliseconds elapsed{0};
  std::uint64_t from_supernode = 0;
  std::uint64_t from_peers = 0;
  std::optional<std::uint64_t> from_origin;  ///< known for in-process downloads
  std::uint64_t kept = 0;  ///< verified bytes of an interrupted run, not fetched again (-c)
  unsigned failovers = 0;  ///< times the download moved on from a supernode that stopped answering
};

/// "dfget: FILE saved: SIZE in S s (RATE/s); [kept …, ]from supernode …, from peers …[, from
/// origin …][; moved on from a lost supernode N time(s)]"; SIZE counts the kept bytes, RATE only
/// those fetched.
void print_summary(const std::filesystem::path& out, const download_totals& t);

}  // namespace damselfly::dfget
