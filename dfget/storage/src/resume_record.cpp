// SPDX-License-Identifier: Apache-2.0
// dfget -c bookkeeping: a JSON layout file and a piece journal beside the partial download.
#include "damselfly/dfget_storage/resume_record.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

#include "damselfly/common/file_io.hpp"
#include "damselfly/common/piece_math.hpp"

namespace damselfly::dfget {

namespace fs = std::filesystem;
using nlohmann::json;

resume_record::resume_record(fs::path part) : part_(std::move(part)) {}

fs::path resume_record::layout_path() const {
  return fs::path(part_.string() + ".json");
}
fs::path resume_record::journal_path() const {
  return fs::path(part_.string() + ".journal");
}

std::optional<resume_state> resume_record::load() const {
  resume_state st;
  try {
    std::ifstream in(layout_path());
    if (!in) return std::nullopt;
    json j = json::parse(in);
    st.task_id = j.at("task_id").get<std::string>();
    st.version = j.at("version").get<std::string>();
    st.piece_size = j.at("piece_size").get<std::uint64_t>();
    st.content_length = j.at("content_length").get<std::int64_t>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (st.piece_size == 0 || st.content_length < 0) return std::nullopt;
  auto count = piece_count(static_cast<std::uint64_t>(st.content_length), st.piece_size);
  st.have.assign(count, false);
  for (auto piece : piece_journal::load(journal_path()))
    if (piece < count) st.have[piece] = true;
  return st;
}

error_code resume_record::start(const resume_state& layout) {
  journal_ = piece_journal{};
  std::error_code ec;
  fs::remove(journal_path(), ec);
  json j{{"task_id", layout.task_id},
         {"version", layout.version},
         {"piece_size", layout.piece_size},
         {"content_length", layout.content_length}};
  if (auto failed = replace_file(layout_path(), j.dump())) return failed;
  auto opened = piece_journal::open(journal_path());
  if (!opened) return opened.error();
  journal_ = std::move(*opened);
  return {};
}

error_code resume_record::mark(std::uint64_t piece) {
  if (!journal_.is_open()) {
    // Resuming under the layout found on disk: keep appending to its journal.
    auto opened = piece_journal::open(journal_path());
    if (!opened) return opened.error();
    journal_ = std::move(*opened);
  }
  return journal_.append(piece);
}

void resume_record::remove() {
  journal_ = piece_journal{};
  std::error_code ec;
  fs::remove(layout_path(), ec);
  fs::remove(journal_path(), ec);
}

}  // namespace damselfly::dfget
