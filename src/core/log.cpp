#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

namespace serval {

void init_logging() {
  static bool done = false;
  if (done) return;
  done = true;
  auto logger = spdlog::stderr_color_mt("serval");
  logger->set_pattern("%^%l%$ %m-%d %H:%M:%S [serval] %v");
  spdlog::set_default_logger(logger);
  const char* level = std::getenv("SERVAL_LOG_LEVEL");
  spdlog::set_level(level ? spdlog::level::from_str(level) : spdlog::level::info);
}

}  // namespace serval
