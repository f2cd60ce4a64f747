// SPDX-License-Identifier: Apache-2.0
// Task identity, computed the same way by the supernode and every client.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "damselfly/common/error.hpp"

namespace damselfly {

/// What identifies one source file: every message and record that names a
/// task carries this one struct. Two requests with equal identities share a task.
struct task_identity {
  std::string url;                   ///< as the user gave it
  std::vector<std::string> filters;  ///< query parameter names ignored for identity
  std::string tag;                   ///< separates otherwise equal URLs (e.g. per release)
  std::string digest;                ///< "sha256:HEX"; wins over identifier when both are set
  std::string identifier;
  std::string range;  ///< byte range of the source, empty for the whole file
};

/// task_id = sha256 hex of the normalized URL, tag, digest-or-identifier and
/// range, each on its own line. Fails only when the URL does not parse.
result<std::string> make_task_id(const task_identity& key);

/// The id of a private task: `public_id` bound to `credential_key`, a keyed
/// hash of the credentials it was fetched with (see the supernode's API
/// docs). Without the key, nobody can compute it from the URL.
std::string private_task_id(std::string_view public_id, std::string_view credential_key);

/// True for 64 lowercase hex characters (rejects path tricks in task ids).
bool is_valid_task_id(std::string_view id) noexcept;

}  // namespace damselfly
