// DebugExit: maps the written value to an exit status the way QEMU does.
#include "devices/legacy/debug_exit.hpp"

#include <fmt/format.h>

namespace vessel {

void DebugExit::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (offset != 0) return;
    std::uint64_t value = bytes_to_value(data);
    // The process exit status keeps only 8 bits, as with QEMU.
    int status = static_cast<int>(((value << 1) | 1) & 0xff);
    m_exits.request_exit({ExitRequest::Kind::DebugExit, status,
                          fmt::format("guest wrote {:#x} to the debug-exit port", value)});
}

} // namespace vessel
