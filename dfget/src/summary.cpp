// SPDX-License-Identifier: Apache-2.0
// Summary line and human-readable sizes.
#include "summary.hpp"

#include <algorithm>
#include <cstdio>

namespace damselfly::dfget {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

void print_summary(const std::filesystem::path& out, const download_totals& t) {
  double secs = std::max<double>(static_cast<double>(t.elapsed.count()), 1) / 1000.0;
  std::string origin;
  if (t.from_origin) origin = ", from origin " + human_bytes(static_cast<double>(*t.from_origin));
  std::string kept;
  if (t.kept) kept = "kept from before " + human_bytes(static_cast<double>(t.kept)) + ", ";
  if (t.failovers)
    origin += "; moved on from a lost supernode " + std::to_string(t.failovers) +
              (t.failovers == 1 ? " time" : " times");
  std::fprintf(stderr,
               "dfget: %s saved: %s in %.2f s (%s/s); %sfrom supernode %s, from peers %s%s\n",
               out.c_str(), human_bytes(static_cast<double>(t.bytes + t.kept)).c_str(), secs,
               human_bytes(static_cast<double>(t.bytes) / secs).c_str(), kept.c_str(),
               human_bytes(static_cast<double>(t.from_supernode)).c_str(),
               human_bytes(static_cast<double>(t.from_peers)).c_str(), origin.c_str());
}

}  // namespace damselfly::dfget
