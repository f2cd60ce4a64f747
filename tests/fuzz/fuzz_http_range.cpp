// SPDX-License-Identifier: Apache-2.0
// Fuzz target: Range and Content-Range headers as peers and origins send them.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "damselfly/common/http_range.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::uint64_t length :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1} << 20, std::uint64_t{1} << 62}) {
    auto r = damselfly::parse_range_header(text, length);
    // A parsed range lies inside the content and is not empty.
    if (r &&
        (r->length == 0 || r->offset + r->length > length || r->offset + r->length < r->offset))
      throw std::logic_error("range outside the content");
  }
  auto c = damselfly::parse_content_range(text);
  if (c && c->range && c->total && c->range->end() > *c->total)
    throw std::logic_error("content range past its total");
  return 0;
}
