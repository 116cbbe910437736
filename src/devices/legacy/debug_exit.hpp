// DebugExit: QEMU's isa-debug-exit at port 0xf4; a guest write of V ends Vessel with (V << 1) | 1.
#pragma once

#include "base/exit_request.hpp"
#include "devices/bus_device.hpp"

namespace vessel {

/// Lets test guests end the VM with a status. Reads return all ones, as on QEMU.
class DebugExit final : public BusDevice {
  public:
    static constexpr std::uint16_t port = 0xf4;
    static constexpr std::uint64_t size = 4;

    explicit DebugExit(ExitSink& exits) : m_exits(exits) {}

    std::string_view name() const override { return "isa-debug-exit"; }
    void read(std::uint64_t, std::span<std::uint8_t> data) override {
        for (auto& byte : data)
            byte = 0xff;
    }
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  private:
    ExitSink& m_exits;
};

} // namespace vessel
