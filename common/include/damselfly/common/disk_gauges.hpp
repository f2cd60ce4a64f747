// SPDX-License-Identifier: Apache-2.0
// Gauges of a cache directory's filesystem (free and total bytes), read at scrape time.
#pragma once

#include <filesystem>
#include <string>

#include "damselfly/common/metrics.hpp"

namespace damselfly {

/// `PREFIX_cache_disk_free_bytes` and `PREFIX_cache_disk_size_bytes` of the
/// filesystem holding a directory; refresh() just before rendering.
class disk_gauges {
 public:
  disk_gauges(metrics_registry& metrics, const std::string& prefix, std::filesystem::path dir);
  void refresh();

 private:
  std::filesystem::path dir_;
  metric_value& free_;
  metric_value& size_;
};

}  // namespace damselfly
