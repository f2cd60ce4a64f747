// SPDX-License-Identifier: Apache-2.0
// Where a download's bytes go, decided from -O, -P and the URL before anything is fetched.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "damselfly/common/error.hpp"
#include "damselfly/dfget_storage/output_file.hpp"

namespace damselfly::dfget {

/// The output as resolved: a file replaced atomically, or a stream (a
/// device, a FIFO, stdout) that receives the verified file in order.
/// Neither ever replaces what is not a regular file.
struct output_target {
  enum class kind { file, stream };
  kind what = kind::file;
  /// file: the final path (a symlink resolved to the file it names);
  /// stream: the device or FIFO to write; empty for stdout.
  std::filesystem::path path;
  std::optional<mode_t> mode;  ///< the mode of the regular file being replaced
  bool exists = false;         ///< a regular file is there already (--no-clobber)
  std::string display;         ///< as the user named it, for messages

  bool to_stdout() const noexcept { return what == kind::stream && path.empty(); }

  /// Resolves `output` (-O; "-" is stdout; empty: the URL's decoded file
  /// name, wget's default) under `prefix` (-P) for `url`. nullopt with the
  /// reason in `why` when no usable output follows.
  static std::optional<output_target> resolve(const std::string& output, const std::string& prefix,
                                              const std::string& url, std::string& why);

  /// The temporary the download is written into: beside the file (the
  /// resumable one with `resume`), or in the temporary directory for a stream.
  result<std::unique_ptr<output_file>> open(bool resume) const;

  /// Puts the finished temporary in place: renamed over the file (keeping
  /// the replaced file's mode, stamped with `mtime` when given), or written
  /// in order to the stream. On an error `why` says what failed.
  error_code publish(output_file& out, std::uint64_t length, std::optional<std::int64_t> mtime,
                     std::string& why) const;
};

}  // namespace damselfly::dfget
