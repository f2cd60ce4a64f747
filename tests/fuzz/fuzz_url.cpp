// SPDX-License-Identifier: Apache-2.0
// Fuzz target: URL parsing, normalization and task ids, as registrations carry them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "damselfly/common/task_id.hpp"
#include "damselfly/common/url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto nl = text.find('\n');
  std::string url = text.substr(0, nl);
  std::vector<std::string> filters;
  if (nl != std::string::npos) filters = damselfly::split_filter_list(text.substr(nl + 1));
  (void)damselfly::http_url::parse(url);
  auto normalized = damselfly::normalize_url(url, filters);
  if (normalized) {
    // Deterministic, and a normalized URL parses. Without a query it is also a
    // fixed point (the "/./" path bug); Boost.URL may still re-encode a query
    // on a second pass, which is harmless as every side normalizes the
    // user's text once.
    auto twice = damselfly::normalize_url(url, filters);
    if (!twice || *twice != *normalized) __builtin_trap();
    if (!damselfly::http_url::parse(*normalized)) __builtin_trap();
    if (normalized->find('?') == std::string::npos) {
      auto again = damselfly::normalize_url(*normalized, filters);
      if (!again || *again != *normalized) __builtin_trap();
    }
  }
  auto id = damselfly::make_task_id({url, filters, "t", "", "", ""});
  if (id && !damselfly::is_valid_task_id(*id)) __builtin_trap();
  return 0;
}
