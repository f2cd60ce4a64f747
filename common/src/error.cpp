// SPDX-License-Identifier: Apache-2.0
// The damselfly error category: one table gives every code its stable name and its message.
#include "damselfly/common/error.hpp"

#include <string>

namespace damselfly {
namespace {

struct errc_entry {
  errc code;
  std::string_view name;     ///< stable, machine-readable (JSON "code" fields)
  std::string_view message;  ///< one line for a human
};

constexpr errc_entry errc_table[] = {
    {errc::ok, "ok", "success"},
    {errc::invalid_argument, "invalid_argument", "invalid argument"},
    {errc::bad_request, "bad_request", "bad request"},
    {errc::not_found, "not_found", "not found"},
    {errc::range_not_satisfiable, "range_not_satisfiable", "range not satisfiable"},
    {errc::origin_http_error, "origin_http_error", "origin answered with an error status"},
    {errc::origin_unreachable, "origin_unreachable", "origin unreachable"},
    {errc::origin_protocol, "origin_protocol", "origin sent an invalid response"},
    {errc::source_changed, "source_changed", "source changed during download"},
    {errc::digest_mismatch, "digest_mismatch", "digest mismatch"},
    {errc::timeout, "timeout", "timed out"},
    {errc::io_error, "io_error", "local I/O error"},
    {errc::protocol_error, "protocol_error", "protocol error"},
    {errc::task_failed, "task_failed", "task failed"},
    {errc::supernode_unreachable, "supernode_unreachable", "supernode unreachable"},
    {errc::too_many_failures, "too_many_failures", "too many failures"},
    {errc::cancelled, "cancelled", "cancelled"},
    {errc::busy, "busy", "in use by another process"},
    {errc::origin_forbidden, "origin_forbidden", "origin address not allowed"},
};

const errc_entry* find_entry(int ev) noexcept {
  for (const auto& e : errc_table)
    if (static_cast<int>(e.code) == ev) return &e;
  return nullptr;
}

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "damselfly"; }
  std::string message(int ev) const override {
    if (const auto* e = find_entry(ev)) return std::string(e->message);
    return "unknown damselfly error " + std::to_string(ev);
  }
};

}  // namespace

const boost::system::error_category& damselfly_category() noexcept {
  static const category instance;
  return instance;
}

std::string_view error_name(const error_code& ec) noexcept {
  if (ec.category() == damselfly_category())
    if (const auto* e = find_entry(ec.value())) return e->name;
  return "failed";
}

}  // namespace damselfly
