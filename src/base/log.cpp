// Logging set-up: one stderr sink, short human format.
#include "base/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace vessel::log {

void initialize(std::string_view level_name) {
    auto logger = spdlog::stderr_color_mt("vessel");
    logger->set_pattern("vessel: %^%l%$: %v");
    logger->set_level(spdlog::level::from_str(std::string(level_name)));
    spdlog::set_default_logger(logger);
}

} // namespace vessel::log
