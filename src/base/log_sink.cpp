// FreshLineSink: wraps spdlog's stderr sink to start log lines on a line of their own.
#include "base/log_sink.hpp"

#include <atomic>
#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace vessel::log {

namespace {
/// Whether the last byte of console output was not a newline.
std::atomic<bool> console_line_open{false};

bool stdout_is_stderr() {
    struct stat out {};
    struct stat err {};
    return ::fstat(STDOUT_FILENO, &out) == 0 && ::fstat(STDERR_FILENO, &err) == 0 &&
           out.st_dev == err.st_dev && out.st_ino == err.st_ino;
}

class FreshLineSink final : public spdlog::sinks::sink {
  public:
    FreshLineSink() : m_inner(std::make_shared<spdlog::sinks::stderr_color_sink_mt>()) {}

    void log(const spdlog::details::log_msg& message) override {
        if (m_shared_file && console_line_open.exchange(false)) std::fputc('\n', stderr);
        m_inner->log(message);
    }
    void flush() override { m_inner->flush(); }
    void set_pattern(const std::string& pattern) override { m_inner->set_pattern(pattern); }
    void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
        m_inner->set_formatter(std::move(formatter));
    }

  private:
    spdlog::sink_ptr m_inner;
    bool m_shared_file{stdout_is_stderr()};
};
} // namespace

void note_console_output(std::span<const std::uint8_t> bytes) {
    if (!bytes.empty()) console_line_open.store(bytes.back() != '\n');
}

spdlog::sink_ptr make_stderr_sink() {
    return std::make_shared<FreshLineSink>();
}

void SwitchableSink::set_target(spdlog::sink_ptr target) {
    spdlog::sink_ptr old;
    {
        std::lock_guard lock(m_mutex);
        if (m_formatter) target->set_formatter(m_formatter->clone());
        old = std::exchange(m_target, std::move(target));
    }
    if (old) old->flush(); // released (its file closed) once the last line through it is done
}

void SwitchableSink::log(const spdlog::details::log_msg& message) {
    std::lock_guard lock(m_mutex);
    m_target->log(message);
}

void SwitchableSink::flush() {
    std::lock_guard lock(m_mutex);
    m_target->flush();
}

void SwitchableSink::set_pattern(const std::string& pattern) {
    set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
}

void SwitchableSink::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
    std::lock_guard lock(m_mutex);
    m_target->set_formatter(formatter->clone());
    m_formatter = std::move(formatter);
}

} // namespace vessel::log
