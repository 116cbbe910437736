// Vessel's stderr log sink: log lines never continue a guest console line left unfinished.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include <spdlog/sinks/sink.h>

namespace vessel::log {

/// Records guest console output just written to stdout: whether its last byte ended a line.
void note_console_output(std::span<const std::uint8_t> bytes);

/// A colored stderr sink that first ends an unfinished console line with "\n" when stdout and
/// stderr are the same file (a terminal, or `>file 2>&1`), so `/ # vessel: info: ...` becomes
/// two lines.
spdlog::sink_ptr make_stderr_sink();

/// A sink whose target (stderr, a file) can be replaced while other threads log through it, so
/// reconfiguring the log (PUT /logger) changes one logger in place instead of leaving old loggers,
/// and their open files, behind for threads that might still hold them.
class SwitchableSink final : public spdlog::sinks::sink {
  public:
    explicit SwitchableSink(spdlog::sink_ptr target) : m_target(std::move(target)) {}
    /// From now on lines go to `target` (with this sink's formatter); the old target is released.
    void set_target(spdlog::sink_ptr target);

    void log(const spdlog::details::log_msg& message) override;
    void flush() override;
    void set_pattern(const std::string& pattern) override;
    void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

  private:
    std::mutex m_mutex;
    spdlog::sink_ptr m_target;
    std::unique_ptr<spdlog::formatter> m_formatter; ///< the last one set, for the next target
};

} // namespace vessel::log
