// AcpiPower: the fixed ACPI power-management registers (PM1 event and control blocks) and the
// 0xcf9 reset register the FADT names, so guests can power off and reboot through ACPI.
#pragma once

#include <mutex>

#include "base/exit_request.hpp"
#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"

namespace vessel {

/// PM1a_EVT_BLK (offsets 0-3: status, enable) and PM1a_CNT_BLK (offsets 4-5) in one window.
/// Writing SLP_EN with SLP_TYP = 5 (S5, soft-off) ends the VM with status 0.
class AcpiPower final : public BusDevice {
  public:
    static constexpr std::uint64_t window_size = 6;

    explicit AcpiPower(ExitSink& exits) : m_exits(exits) {}

    std::string_view name() const override { return "acpi pm1"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    /// Snapshot state (docs/SNAPSHOT_FORMAT.md): saved while the VM is paused, loaded before
    /// it runs. The IRQ line is not driven on load: the interrupt controllers' saved state
    /// already holds its level.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    std::uint8_t& register_byte(std::uint64_t offset);

    std::mutex m_mutex;
    ExitSink& m_exits;
    std::uint8_t m_registers[window_size] = {0, 0, 0, 0, 1, 0}; ///< PM1_CNT.SCI_EN set: ACPI mode
};

/// The reset control register at 0xcf9: writing a value with the reset bit (bit 2) set resets
/// the machine, which ends the VM with status 0.
class ResetControl final : public BusDevice {
  public:
    explicit ResetControl(ExitSink& exits) : m_exits(exits) {}
    std::string_view name() const override { return "reset control"; }
    void read(std::uint64_t, std::span<std::uint8_t> data) override {
        for (auto& byte : data)
            byte = 0;
    }
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  private:
    ExitSink& m_exits;
};

} // namespace vessel
