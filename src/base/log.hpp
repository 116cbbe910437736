// Logging: human-readable leveled logs on stderr (spdlog behind a small, cheap-to-include
// front: a call formats with fmt::vformat, so no spdlog template is instantiated per call).
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace vessel::log {

enum class Level { trace, debug, info, warn, error };

/// Configures the default logger (stderr, "vessel: level: message"); level is a spdlog level name.
void initialize(std::string_view level_name);

/// Whether messages of `level` are written by the current logger.
bool enabled(Level level);
/// Writes one message at `level` (already formatted).
void write(Level level, std::string_view message);

namespace detail {
void vlog(Level level, fmt::string_view format, fmt::format_args args);
}

// Messages known only at run time (no format string): written as they are.
inline void trace(std::string_view message) {
    if (enabled(Level::trace)) write(Level::trace, message);
}
inline void debug(std::string_view message) {
    if (enabled(Level::debug)) write(Level::debug, message);
}
inline void info(std::string_view message) {
    if (enabled(Level::info)) write(Level::info, message);
}
inline void warn(std::string_view message) {
    if (enabled(Level::warn)) write(Level::warn, message);
}
inline void error(std::string_view message) {
    if (enabled(Level::error)) write(Level::error, message);
}

template <typename... Args> void trace(fmt::format_string<Args...> format, Args&&... args) {
    detail::vlog(Level::trace, format, fmt::make_format_args(args...));
}
template <typename... Args> void debug(fmt::format_string<Args...> format, Args&&... args) {
    detail::vlog(Level::debug, format, fmt::make_format_args(args...));
}
template <typename... Args> void info(fmt::format_string<Args...> format, Args&&... args) {
    detail::vlog(Level::info, format, fmt::make_format_args(args...));
}
template <typename... Args> void warn(fmt::format_string<Args...> format, Args&&... args) {
    detail::vlog(Level::warn, format, fmt::make_format_args(args...));
}
template <typename... Args> void error(fmt::format_string<Args...> format, Args&&... args) {
    detail::vlog(Level::error, format, fmt::make_format_args(args...));
}

} // namespace vessel::log
