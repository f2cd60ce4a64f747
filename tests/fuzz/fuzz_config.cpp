// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the YAML config loader that both programs read their config files with.
#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "damselfly/common/yaml_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Config files are short; long inputs only slow the search (the YAML
  // parser's cost grows with them) without reaching other code.
  if (size > 1024) return 0;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  auto config = damselfly::make_yaml_config();
  try {
    (void)config->from_config(in);
  } catch (const CLI::Error&) {
    // A bad file is refused with a message; anything else escaping is a bug.
  }
  return 0;
}
