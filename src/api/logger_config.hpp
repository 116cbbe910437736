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
    /// Configures the process's logger (destination, pattern, level). The first call makes it
    /// the default logger; later calls switch its destination in place (the previous file is
    /// closed), so repeated PUT /logger requests leave nothing behind.
    Result<void> apply() const;
};

} // namespace vessel::api
