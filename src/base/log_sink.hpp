// Vessel's stderr log sink: log lines never continue a guest console line left unfinished.
#pragma once

#include <cstdint>
#include <span>

#include <spdlog/sinks/sink.h>

namespace vessel::log {

/// Records guest console output just written to stdout: whether its last byte ended a line.
void note_console_output(std::span<const std::uint8_t> bytes);

/// A colored stderr sink that first ends an unfinished console line with "\n" when stdout and
/// stderr are the same file (a terminal, or `>file 2>&1`), so `/ # vessel: info: ...` becomes
/// two lines.
spdlog::sink_ptr make_stderr_sink();

} // namespace vessel::log
