// weft — logging. weft logs through spdlog under the logger name "weft": runtime start and
// stop, the connect reaper, stack-limit fallbacks, escaping exceptions. Nothing is logged on a
// hot path. By default it logs to stderr at level `warn`; the environment variable WEFT_LOG
// (trace, debug, info, warn, error, critical, off) sets the level.
//
// This header does not include spdlog; a program that hands weft its own logger includes
// <spdlog/spdlog.h> itself.
#pragma once

#include <weft/config.hpp>

#include <memory>

namespace spdlog {
class logger;
}

namespace weft {

// Routes weft's messages to `logger` (thread-safe). nullptr restores the default logger.
WEFT_API void set_logger(std::shared_ptr<spdlog::logger> logger);
// The logger weft currently uses.
WEFT_API std::shared_ptr<spdlog::logger> get_logger();

}  // namespace weft
