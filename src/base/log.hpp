// Logging: human-readable leveled logs on stderr through spdlog.
#pragma once

#include <spdlog/spdlog.h>

namespace vessel::log {

/// Configures the default logger (stderr, "vessel: level: message"); level is a spdlog level name.
void initialize(std::string_view level_name);

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::trace;
using spdlog::warn;

} // namespace vessel::log
