// SPDX-License-Identifier: Apache-2.0
// Fuzz target: every v1 message decoder, and the checks clients run on answers.
// The first byte picks the decoder, so one execution parses the text once.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "damselfly/proto/checks.hpp"
#include "damselfly/proto/messages.hpp"

namespace {

using namespace damselfly::proto;

/// What decodes, encodes, and decodes again; returns the first decoding.
template <class T>
decoded<T> round_trip(std::string_view text) {
  auto d = decode<T>(text);
  if (d && !decode<T>(encode(*d.value))) __builtin_trap();
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  // The jobs API's messages: first bytes 0xF0-0xF3 (the corpus of the
  // others starts with printable letters, whose choice stays as it was).
  if (data[0] >= 0xF0 && data[0] <= 0xF3) {
    switch (data[0] & 3) {
      case 0:
        if (auto j = round_trip<job_request>(text)) (void)check_origin_headers(j.value->headers);
        break;
      case 1:
        (void)round_trip<job_status>(text);
        break;
      case 2:
        (void)round_trip<job_list>(text);
        break;
      default:
        (void)round_trip<job_report>(text);
        break;
    }
    return 0;
  }
  // The dashboard's messages: first bytes 0xE0-0xE3.
  if (data[0] >= 0xE0 && data[0] <= 0xE3) {
    switch (data[0] & 3) {
      case 0:
        (void)round_trip<task_list>(text);
        break;
      case 1:
        (void)round_trip<piece_map>(text);
        break;
      case 2:
        (void)round_trip<host_list>(text);
        break;
      default:
        (void)round_trip<task_summary>(text);
        break;
    }
    return 0;
  }
  switch (data[0] % 10) {
    case 0:
      if (auto r = round_trip<register_request>(text)) {
        (void)check_origin_headers(r.value->headers);
        (void)decode_bitmap(r.value->bitmap);
      }
      break;
    case 1:
      (void)round_trip<sync_request>(text);
      break;
    case 2:
      (void)round_trip<heartbeat_request>(text);
      break;
    case 3:
      (void)round_trip<heartbeat_response>(text);
      break;
    case 4:
      (void)round_trip<local_request>(text);
      break;
    case 5:
      (void)round_trip<local_event>(text);
      break;
    case 6:
      (void)round_trip<error_response>(text);
      break;
    case 7:
      // An answer may leave the task out (the peer knows it): checked as dfget does.
      if (auto s = round_trip<sync_response>(text);
          s && s.value->task && check_task_info(*s.value->task).empty()) {
        for (const auto& a : s.value->assignments) (void)check_assignment(a, *s.value->task);
        (void)check_ticket(s.value->ticket);
      }
      break;
    case 8:
      // What another supernode sends: decoded and checked before the signature matters.
      if (auto r = round_trip<task_replica>(text)) (void)check_replica(*r.value);
      break;
    default:
      if (auto t = round_trip<task_info>(text)) (void)check_task_info(*t.value);
      break;
  }
  return 0;
}
