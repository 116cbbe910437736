// Logging set-up: one stderr sink, short human format; the non-template half of log.hpp.
#include "base/log.hpp"

#include <spdlog/spdlog.h>

#include "base/log_sink.hpp"

namespace vessel::log {

namespace {

spdlog::level::level_enum to_spdlog(Level level) {
    switch (level) {
    case Level::trace:
        return spdlog::level::trace;
    case Level::debug:
        return spdlog::level::debug;
    case Level::info:
        return spdlog::level::info;
    case Level::warn:
        return spdlog::level::warn;
    case Level::error:
        break;
    }
    return spdlog::level::err;
}

} // namespace

void initialize(std::string_view level_name) {
    auto logger = std::make_shared<spdlog::logger>("vessel", make_stderr_sink());
    logger->set_pattern("vessel: %^%l%$: %v");
    logger->set_level(spdlog::level::from_str(std::string(level_name)));
    spdlog::set_default_logger(logger);
}

bool enabled(Level level) {
    return spdlog::default_logger_raw()->should_log(to_spdlog(level));
}

void write(Level level, std::string_view message) {
    spdlog::default_logger_raw()->log(to_spdlog(level), message);
}

namespace detail {

void vlog(Level level, fmt::string_view format, fmt::format_args args) {
    if (!enabled(level)) return;
    write(level, fmt::vformat(format, args));
}

} // namespace detail

} // namespace vessel::log
