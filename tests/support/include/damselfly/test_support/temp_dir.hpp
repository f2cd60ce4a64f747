// SPDX-License-Identifier: Apache-2.0
// A temporary directory removed with everything in it when the test ends.
#pragma once

#include <filesystem>
#include <string>

namespace damselfly::test {

class temp_dir {
 public:
  /// Creates a fresh directory under $TMPDIR (or /tmp) named after `prefix`.
  explicit temp_dir(const std::string& prefix = "damselfly-test");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace damselfly::test
