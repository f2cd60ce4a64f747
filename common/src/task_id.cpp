// SPDX-License-Identifier: Apache-2.0
// Task id derivation.
#include "damselfly/common/task_id.hpp"

#include "damselfly/common/digest.hpp"
#include "damselfly/common/url.hpp"

namespace damselfly {

result<std::string> make_task_id(const task_identity& key) {
  auto normalized = normalize_url(key.url, key.filters);
  if (!normalized) return normalized.error();
  const std::string& content_id = key.digest.empty() ? key.identifier : key.digest;
  std::string material = *normalized + "\n" + key.tag + "\n" + content_id + "\n" + key.range;
  return sha256_hex(material);
}

std::string private_task_id(std::string_view public_id, std::string_view credential_key) {
  std::string material(public_id);
  material += "\nprivate\n";
  material += credential_key;
  return sha256_hex(material);
}

bool is_valid_task_id(std::string_view id) noexcept {
  if (id.size() != 64) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace damselfly
