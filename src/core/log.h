// Logging: spdlog with vLLM's line shape ("INFO 11-25 10:00:00 [engine] message") on stderr.
#pragma once

#include <spdlog/spdlog.h>

namespace serval {

// Installs the serval log format and level (SERVAL_LOG_LEVEL=debug|info|warning|error, default info).
void init_logging();

}  // namespace serval
