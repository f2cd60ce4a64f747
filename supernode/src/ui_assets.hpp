// SPDX-License-Identifier: Apache-2.0
// The dashboard's files, compiled into the supernode from supernode/ui/.
#pragma once

#include <span>
#include <string_view>

namespace damselfly::supernode {

struct ui_asset {
  std::string_view name;  ///< path under /ui/ ("index.html", "app.js", ...)
  std::string_view content_type;
  std::string_view body;
};

/// Every file of the dashboard (generated at build time by cmake/embed_ui.cmake).
std::span<const ui_asset> ui_assets();

}  // namespace damselfly::supernode
