// Logging set-up: one stderr sink, short human format.
#include "base/log.hpp"

#include "base/log_sink.hpp"

namespace vessel::log {

void initialize(std::string_view level_name) {
    auto logger = std::make_shared<spdlog::logger>("vessel", make_stderr_sink());
    logger->set_pattern("vessel: %^%l%$: %v");
    logger->set_level(spdlog::level::from_str(std::string(level_name)));
    spdlog::set_default_logger(logger);
}

} // namespace vessel::log
