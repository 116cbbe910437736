// LoggerConfig: validation and installing the configured spdlog logger.
#include "api/logger_config.hpp"

#include <algorithm>
#include <mutex>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "api/json_fields.hpp"
#include "base/log_sink.hpp"

namespace vessel::api {

namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

spdlog::level::level_enum spdlog_level(const std::string& level) {
    std::string name = lower(level);
    if (name == "error") return spdlog::level::err;
    if (name == "warning") return spdlog::level::warn;
    if (name == "debug") return spdlog::level::debug;
    if (name == "trace") return spdlog::level::trace;
    if (name == "off") return spdlog::level::off;
    return spdlog::level::info;
}

} // namespace

Result<LoggerConfig> LoggerConfig::from_json(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "logger"));
    LoggerConfig config;
    if (auto level = TRY(fields.optional_string("level"))) {
        static constexpr std::string_view levels[] = {"error", "warning", "info",
                                                      "debug", "trace",   "off"};
        if (std::find(std::begin(levels), std::end(levels), lower(*level)) == std::end(levels))
            return make_error("logger: field 'level' has invalid value '{}' (Error, Warning, "
                              "Info, Debug, Trace, Off)",
                              *level);
        config.level = *level;
    }
    config.log_path = TRY(fields.optional_string("log_path"));
    config.show_level = TRY(fields.optional_bool("show_level")).value_or(false);
    if (TRY(fields.optional_bool("show_log_origin")).value_or(false))
        return make_error("logger: show_log_origin=true is not supported by Vessel (its log "
                          "calls do not record source locations)");
    if (TRY(fields.optional_string("module")))
        return make_error("logger: field 'module' is not supported by Vessel (no per-module "
                          "log filtering)");
    TRY(fields.finish());
    return config;
}

nlohmann::json LoggerConfig::to_json() const {
    nlohmann::json json = {
        {"level", level}, {"show_level", show_level}, {"show_log_origin", false}};
    json["log_path"] = log_path ? nlohmann::json(*log_path) : nlohmann::json();
    return json;
}

Result<void> LoggerConfig::apply() const {
    spdlog::sink_ptr target;
    if (log_path) {
        // spdlog reports a file it cannot open only by throwing; turn that into an error here.
        try {
            target = std::make_shared<spdlog::sinks::basic_file_sink_mt>(*log_path, false);
        } catch (const spdlog::spdlog_ex& error) {
            return make_error("logger: log_path '{}' cannot be opened: {}", *log_path,
                              error.what());
        }
    } else {
        target = log::make_stderr_sink();
    }
    // One configured logger for the process, its target switched in place: another thread may
    // be writing through the default logger right now, so a logger once the default is never
    // freed, and only the first configuration (or a log::initialize since) replaces it.
    static std::mutex mutex;
    static std::shared_ptr<log::SwitchableSink> switchable;
    static std::shared_ptr<spdlog::logger> configured;
    static std::vector<std::shared_ptr<spdlog::logger>> retired;
    std::lock_guard lock(mutex);
    if (!configured) {
        switchable = std::make_shared<log::SwitchableSink>(target);
        configured = std::make_shared<spdlog::logger>("vessel", switchable);
    } else {
        switchable->set_target(target);
    }
    configured->set_pattern(show_level ? "%Y-%m-%dT%H:%M:%S.%f [vessel] %^%l%$: %v"
                                       : "%Y-%m-%dT%H:%M:%S.%f [vessel] %v");
    configured->set_level(spdlog_level(level));
    // A file shows each line at once, like Firecracker's; stderr flushes itself.
    configured->flush_on(log_path ? spdlog::level::trace : spdlog::level::off);
    if (spdlog::default_logger_raw() != configured.get()) {
        retired.push_back(spdlog::default_logger());
        spdlog::set_default_logger(configured);
    }
    return {};
}

} // namespace vessel::api
