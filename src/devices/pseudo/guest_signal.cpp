// GuestSignal: boot timer and exit-status ports.
#include "devices/pseudo/guest_signal.hpp"

#include "base/log.hpp"

namespace vessel {

void GuestSignal::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (data.empty()) return;
    if (offset == 0 && data[0] == boot_complete_value) {
        std::chrono::duration<double, std::milli> elapsed =
            std::chrono::steady_clock::now() - m_created;
        m_boot_milliseconds = elapsed.count();
        log::info("guest reached userspace in {:.0f} ms", elapsed.count());
    } else if (offset == 2 && data[0] == 1) {
        m_input_ready = true;
        log::debug("guest console ready for piped input");
    } else if (offset == 1) {
        m_exits.request_exit({ExitRequest::Kind::PowerOff, data[0],
                              fmt::format("guest command exited with status {}", data[0])});
    }
}

} // namespace vessel
