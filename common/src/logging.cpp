// SPDX-License-Identifier: Apache-2.0
// spdlog default logger configuration.
#include "damselfly/common/logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace damselfly {

error_code setup_logging(const std::string& program, const std::string& level,
                         const std::string& file) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return errc::invalid_argument;
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (file.empty())
      logger = spdlog::stderr_logger_mt(program + "-stderr");
    else
      logger = spdlog::basic_logger_mt(program + "-file", file);
  } catch (const spdlog::spdlog_ex&) {
    return errc::io_error;
  }
  logger->set_level(lvl);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ " + program + ": %v");
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  // A log file is read while the service runs: do not sit on lines for long.
  if (!file.empty()) spdlog::flush_every(std::chrono::seconds(1));
  return {};
}

}  // namespace damselfly
