// GuestSignal: Vessel's two-port pseudo device through which the default guest reports boot
// completion (like Firecracker's boot timer) and the exit status of `vessel run --exec`.
#pragma once

#include <atomic>
#include <chrono>

#include "base/exit_request.hpp"
#include "devices/bus_device.hpp"

namespace vessel {

/// An MMIO page at 0xfe000000 (Debian's kernel has no /dev/port, but busybox devmem reaches MMIO
/// through /dev/mem). Byte 0: write 123 when userspace is reached (Vessel logs the boot time).
/// Byte 1: write the status Vessel should exit with; the VM ends at once.
/// Byte 2: write 1 when the `--exec` command's console is ready for piped input (the guest has
/// set the line discipline up for it); Vessel holds the input back until then.
class GuestSignal final : public BusDevice {
  public:
    static constexpr std::uint64_t base_address = 0xfe00'0000;
    static constexpr std::uint64_t window_size = 0x1000;
    static constexpr std::uint8_t boot_complete_value = 123;

    explicit GuestSignal(ExitSink& exits) : m_exits(exits) {}

    std::string_view name() const override { return "guest signal"; }
    void read(std::uint64_t, std::span<std::uint8_t> data) override {
        for (auto& byte : data)
            byte = 0;
    }
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    /// Milliseconds from VM creation to the boot signal, or -1 before it.
    double boot_milliseconds() const { return m_boot_milliseconds.load(); }

    /// Whether the guest said its console is ready for piped input (byte 2).
    bool input_ready() const { return m_input_ready.load(); }

  private:
    ExitSink& m_exits;
    std::chrono::steady_clock::time_point m_created{std::chrono::steady_clock::now()};
    std::atomic<double> m_boot_milliseconds{-1}; ///< written by a vCPU, read by metrics
    std::atomic<bool> m_input_ready{false};      ///< written by a vCPU, read by the terminal
};

} // namespace vessel
