// SPDX-License-Identifier: Apache-2.0
// YAML config files for CLI11 apps: values from the file, overridden by flags.
#pragma once

#include <memory>
#include <string>

namespace CLI {
class App;
class Config;
}  // namespace CLI

namespace damselfly {

/// A CLI11 config formatter that reads YAML (yaml-cpp). Top-level keys are the
/// long flag names ("listen", "data-dir"; underscores are accepted for dashes),
/// sequences give repeated values. Nested maps name subcommand options
/// ("daemon: {listen: ...}").
std::shared_ptr<CLI::Config> make_yaml_config();

/// Adds `--config FILE` to `app`, read as YAML; command-line flags win over it.
/// A missing or malformed file is a usage error naming the file.
void add_yaml_config_option(CLI::App& app, const std::string& default_path = "");

}  // namespace damselfly
