// SPDX-License-Identifier: Apache-2.0
// Base fixture of the integration tests: a scratch dir with www/, out/ and logs/.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "damselfly/test_support/temp_dir.hpp"

namespace damselfly::test {

/// Each test gets a fresh directory: www/ holds the origin's files, out/ the
/// downloads, logs/ every process's output. It is removed afterwards.
class workspace_test : public ::testing::Test {
 protected:
  explicit workspace_test(const std::string& prefix) : dir_(prefix) {
    for (const char* d : {"www", "out", "logs"}) std::filesystem::create_directories(dir_ / d);
  }
  /// Sanitizer builds: a report in a child process fails the test that caused it.
  static void expect_no_sanitizer_report(const std::string& log) {
    EXPECT_EQ(log.find("Sanitizer"), std::string::npos) << log;
  }

  temp_dir dir_;
};

}  // namespace damselfly::test
