// SPDX-License-Identifier: Apache-2.0
// Messages for the damselfly error category.
#include "damselfly/common/error.hpp"

#include <string>

namespace damselfly {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "damselfly"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok:
        return "success";
      case errc::invalid_argument:
        return "invalid argument";
      case errc::bad_request:
        return "bad request";
      case errc::not_found:
        return "not found";
      case errc::range_not_satisfiable:
        return "range not satisfiable";
      case errc::origin_http_error:
        return "origin answered with an error status";
      case errc::origin_unreachable:
        return "origin unreachable";
      case errc::origin_protocol:
        return "origin sent an invalid response";
      case errc::source_changed:
        return "source changed during download";
      case errc::digest_mismatch:
        return "digest mismatch";
      case errc::timeout:
        return "timed out";
      case errc::io_error:
        return "local I/O error";
      case errc::protocol_error:
        return "protocol error";
      case errc::task_failed:
        return "task failed";
      case errc::supernode_unreachable:
        return "supernode unreachable";
      case errc::too_many_failures:
        return "too many failures";
      case errc::cancelled:
        return "cancelled";
      case errc::busy:
        return "in use by another process";
    }
    return "unknown damselfly error " + std::to_string(ev);
  }
};

}  // namespace

const boost::system::error_category& damselfly_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace damselfly
