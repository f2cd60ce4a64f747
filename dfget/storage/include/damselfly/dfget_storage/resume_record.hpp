// SPDX-License-Identifier: Apache-2.0
// What an interrupted in-process download (dfget -c) keeps beside its temporary file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "damselfly/common/error.hpp"
#include "damselfly/dfget_storage/piece_journal.hpp"

namespace damselfly::dfget {

/// The layout the kept pieces belong to, and which pieces were verified.
struct resume_state {
  std::string task_id;  ///< the task the pieces belong to (URL, filters, tag, digest, identifier)
  std::string version;  ///< the source version they were fetched at
  std::uint64_t piece_size = 0;
  std::int64_t content_length = -1;
  std::vector<bool> have;
};

/// Two files beside the partial download PART: PART.json (the layout, written
/// atomically once it is known) and PART.journal (verified pieces, appended as
/// they land; see piece_journal for why that survives a kill).
class resume_record {
 public:
  explicit resume_record(std::filesystem::path part);
  /// The kept state, or nothing when absent, unreadable or from another boot.
  std::optional<resume_state> load() const;
  /// Records a (new) layout; pieces journaled under another layout are forgotten.
  error_code start(const resume_state& layout);
  /// Records a verified piece of the current layout.
  error_code mark(std::uint64_t piece);
  /// Deletes both files.
  void remove();

 private:
  std::filesystem::path layout_path() const;
  std::filesystem::path journal_path() const;
  std::filesystem::path part_;
  piece_journal journal_;
};

}  // namespace damselfly::dfget
