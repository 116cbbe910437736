// Logging set-up: one stderr sink, short human format; the non-template half of log.hpp.
#include "base/log.hpp"

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "base/log_rate_limiter.hpp"
#include "base/log_sink.hpp"
#include "base/monotonic_clock.hpp"

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

/// Limits info, warning and error lines per call site (debug and trace are opt-in and unlimited).
LogRateLimiter& rate_limiter() {
    static LogRateLimiter limiter;
    return limiter;
}

void write_summaries(Level level, const std::vector<LogRateLimiter::Suppressed>& summaries) {
    for (const auto& summary : summaries)
        write(level, suppressed_line(summary, rate_limiter().lines_per_second()));
}

} // namespace

void report_suppressed() {
    write_summaries(Level::warn, rate_limiter().drain());
}

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
    if (level >= Level::info) {
        auto decision =
            rate_limiter().admit(std::string_view(format.data(), format.size()), steady_clock_ns());
        write_summaries(Level::warn, decision.summaries);
        if (!decision.write) {
            // Lines still counted when Vessel exits are reported then.
            static const bool registered = std::atexit(report_suppressed) == 0;
            (void)registered;
            return;
        }
    }
    write(level, fmt::vformat(format, args));
}

} // namespace detail

} // namespace vessel::log
