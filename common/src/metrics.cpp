// SPDX-License-Identifier: Apache-2.0
// Prometheus text rendering.
#include "damselfly/common/metrics.hpp"

#include <stdexcept>

namespace damselfly {

metric_value& metrics_registry::counter(const std::string& name, const std::string& help,
                                        const std::string& labels) {
  return get(name, help, "counter", labels);
}

metric_value& metrics_registry::gauge(const std::string& name, const std::string& help,
                                      const std::string& labels) {
  return get(name, help, "gauge", labels);
}

histogram& metrics_registry::histogram(const std::string& name, const std::string& help,
                                       const std::vector<double>& bounds,
                                       const std::string& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family_of(name, help, "histogram").histograms[labels];
  if (!slot) slot = &histogram_storage_.emplace_back(bounds);
  if (slot->bounds() != bounds)
    throw std::logic_error("histogram " + name + " registered with two sets of buckets");
  return *slot;
}

metric_value& metrics_registry::get(const std::string& name, const std::string& help,
                                    const std::string& type, const std::string& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family_of(name, help, type).series[labels];
  if (!slot) slot = &storage_.emplace_back();
  return *slot;
}

metrics_registry::family& metrics_registry::family_of(const std::string& name,
                                                      const std::string& help,
                                                      const std::string& type) {
  auto& fam = families_[name];
  if (fam.type.empty()) {
    fam.help = help;
    fam.type = type;
  } else if (fam.type != type) {
    throw std::logic_error("metric " + name + " registered as " + fam.type + " and " + type);
  }
  return fam;
}

std::string metrics_registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    out += "# HELP " + name + " " + fam.help + "\n";
    out += "# TYPE " + name + " " + fam.type + "\n";
    for (const auto& [labels, value] : fam.series) {
      out += name;
      if (!labels.empty()) out += "{" + labels + "}";
      out += " " + std::to_string(value->get()) + "\n";
    }
    for (const auto& [labels, h] : fam.histograms) h->render(out, name, labels);
  }
  return out;
}

}  // namespace damselfly
