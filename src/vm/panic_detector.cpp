// PanicDetector: line assembly and the panic marker Linux prints (kernel/panic.c).
#include "vm/panic_detector.hpp"

#include <fmt/format.h>

namespace vessel {

namespace {
constexpr std::string_view panic_marker = "Kernel panic - not syncing";
}

void PanicDetector::feed(std::span<const std::uint8_t> bytes) {
    for (std::uint8_t byte : bytes) {
        if (byte == '\n' || byte == '\r') {
            if (!m_reported && m_line.find(panic_marker) != std::string::npos) {
                m_reported = true;
                auto start = m_line.find(panic_marker);
                m_exits.request_exit({ExitRequest::Kind::Panic, exit_status::guest_panic,
                                      fmt::format("guest kernel panic: {}", m_line.substr(start))});
            }
            m_line.clear();
        } else if (m_line.size() < max_line) {
            m_line.push_back(static_cast<char>(byte));
        }
    }
}

} // namespace vessel
