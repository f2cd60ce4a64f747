// SPDX-License-Identifier: Apache-2.0
// Fuzz target: every v1 message decoder, and the checks clients run on answers.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "damselfly/proto/checks.hpp"
#include "damselfly/proto/messages.hpp"

namespace {

template <class T>
void round_trip(std::string_view text) {
  auto d = damselfly::proto::decode<T>(text);
  if (!d) return;
  // What decodes, encodes, and decodes again.
  if (!damselfly::proto::decode<T>(damselfly::proto::encode(*d.value))) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace damselfly::proto;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  round_trip<register_request>(text);
  round_trip<sync_request>(text);
  round_trip<heartbeat_request>(text);
  round_trip<heartbeat_response>(text);
  round_trip<local_request>(text);
  round_trip<local_event>(text);
  round_trip<error_response>(text);
  if (auto r = decode<register_request>(text)) {
    (void)check_origin_headers(r.value->headers);
    (void)decode_bitmap(r.value->bitmap);
  }
  if (auto s = decode<sync_response>(text)) {
    if (check_task_info(s.value->task).empty())
      for (const auto& a : s.value->assignments) (void)check_assignment(a, s.value->task);
  }
  if (auto t = decode<task_info>(text)) (void)check_task_info(*t.value);
  return 0;
}
