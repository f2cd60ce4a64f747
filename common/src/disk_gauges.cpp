// SPDX-License-Identifier: Apache-2.0
// Filesystem gauges of a cache directory.
#include "damselfly/common/disk_gauges.hpp"

#include "damselfly/common/file_io.hpp"

namespace damselfly {

disk_gauges::disk_gauges(metrics_registry& metrics, const std::string& prefix,
                         std::filesystem::path dir)
    : dir_(std::move(dir)),
      free_(metrics.gauge(prefix + "_cache_disk_free_bytes",
                          "Bytes free for the cache on its filesystem")),
      size_(metrics.gauge(prefix + "_cache_disk_size_bytes",
                          "Size of the cache's filesystem (without the root reserve)")) {}

void disk_gauges::refresh() {
  free_.set(filesystem_free_space(dir_));
  size_.set(filesystem_size(dir_));
}

}  // namespace damselfly
