// Helpers for device unit tests: register access through the BusDevice interface, recorders.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "base/exit_request.hpp"
#include "devices/bus_device.hpp"
#include "devices/interrupt_sink.hpp"

namespace vessel::testing {

inline std::uint8_t read8(BusDevice& device, std::uint64_t offset) {
    std::uint8_t value = 0;
    device.read(offset, {&value, 1});
    return value;
}
inline void write8(BusDevice& device, std::uint64_t offset, std::uint8_t value) {
    device.write(offset, {&value, 1});
}
inline void write16(BusDevice& device, std::uint64_t offset, std::uint16_t value) {
    std::uint8_t bytes[2] = {static_cast<std::uint8_t>(value),
                             static_cast<std::uint8_t>(value >> 8)};
    device.write(offset, bytes);
}

/// Records interrupt line levels per GSI.
struct RecordingInterruptSink final : InterruptSink {
    void set_irq_level(std::uint32_t gsi, bool level) override {
        levels[gsi] = level;
        if (level) ++raised[gsi];
    }
    std::map<std::uint32_t, bool> levels;
    std::map<std::uint32_t, int> raised;
};

/// Records exit requests.
struct RecordingExitSink final : ExitSink {
    void request_exit(ExitRequest request) override { requests.push_back(std::move(request)); }
    std::vector<ExitRequest> requests;
};

} // namespace vessel::testing
