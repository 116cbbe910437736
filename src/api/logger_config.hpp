// LoggerConfig: the API's logger resource (level, destination file, line format).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace vessel::api {

/// Firecracker's Logger definition. Vessel's logs stay human-readable lines; log_path sends
/// them to a file or named pipe (appending) instead of stderr.
struct LoggerConfig {
    std::string level{"Info"}; ///< Error, Warning, Info, Debug, Trace or Off (any case)
    std::optional<std::string> log_path;
    bool show_level{false};

    static Result<LoggerConfig> from_json(const nlohmann::json& body);
    nlohmann::json to_json() const;
    /// Replaces the process's logger (sink, pattern, level). The previous logger is kept alive,
    /// since other threads may be logging through it at this moment.
    Result<void> apply() const;
};

} // namespace vessel::api
