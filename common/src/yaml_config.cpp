// SPDX-License-Identifier: Apache-2.0
// yaml-cpp backed CLI11 config formatter.
#include "damselfly/common/yaml_config.hpp"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <sstream>

namespace damselfly {
namespace {

std::string flag_name(std::string key) {
  for (char& c : key)
    if (c == '_') c = '-';
  return key;
}

void collect(const YAML::Node& node, std::vector<std::string> parents,
             std::vector<CLI::ConfigItem>& out) {
  for (const auto& kv : node) {
    std::string key = flag_name(kv.first.as<std::string>());
    const YAML::Node& value = kv.second;
    if (value.IsMap()) {
      auto sub = parents;
      sub.push_back(key);
      collect(value, sub, out);
      continue;
    }
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = key;
    if (value.IsSequence()) {
      for (const auto& v : value) item.inputs.push_back(v.as<std::string>());
    } else if (value.IsNull()) {
      continue;
    } else {
      item.inputs.push_back(value.as<std::string>());
    }
    out.push_back(std::move(item));
  }
}

class yaml_config final : public CLI::Config {
 public:
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override {
    std::ostringstream os;
    for (const CLI::Option* opt : app->get_options()) {
      if (!opt->get_configurable() || opt->get_lnames().empty()) continue;
      const std::string& name = opt->get_lnames().front();
      if (name == "help" || name == "config") continue;
      auto values = opt->results();
      if (values.empty()) {
        if (!default_also || opt->get_default_str().empty()) continue;
        values.push_back(opt->get_default_str());
      }
      if (write_description && !opt->get_description().empty())
        os << prefix << "# " << opt->get_description() << "\n";
      os << prefix << name << ":";
      if (opt->get_expected_max() > 1 && values.size() != 1) {
        os << "\n";
        for (const auto& v : values) os << prefix << "  - " << YAML::Node(v) << "\n";
      } else {
        os << " " << YAML::Node(values.front()) << "\n";
      }
    }
    return os.str();
  }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    YAML::Node root;
    try {
      root = YAML::Load(input);
    } catch (const YAML::Exception& e) {
      throw CLI::ParseError("config file is not valid YAML: " + std::string(e.what()),
                            CLI::ExitCodes::ConfigError);
    }
    std::vector<CLI::ConfigItem> items;
    if (root.IsNull()) return items;
    if (!root.IsMap())
      throw CLI::ParseError("config file must be a YAML mapping of option names to values",
                            CLI::ExitCodes::ConfigError);
    try {
      collect(root, {}, items);
    } catch (const YAML::Exception& e) {
      throw CLI::ParseError("config file: " + std::string(e.what()), CLI::ExitCodes::ConfigError);
    }
    return items;
  }
};

}  // namespace

std::shared_ptr<CLI::Config> make_yaml_config() {
  return std::make_shared<yaml_config>();
}

void add_yaml_config_option(CLI::App& app, const std::string& default_path) {
  app.config_formatter(make_yaml_config());
  // A misspelt key in an operator's file must not pass silently.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.set_config("--config", default_path, "YAML config file; command-line flags override it",
                 false);
}

}  // namespace damselfly
