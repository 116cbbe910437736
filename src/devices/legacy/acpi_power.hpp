// AcpiPower: the fixed ACPI power-management registers (PM1 event and control blocks) and the
// 0xcf9 reset register the FADT names, so guests can power off, reboot and sleep through ACPI.
#pragma once

#include <functional>
#include <mutex>

#include "base/exit_request.hpp"
#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"
#include "devices/interrupt_sink.hpp"

namespace vessel {

/// PM1a_EVT_BLK (offsets 0-3: status, enable) and PM1a_CNT_BLK (offsets 4-5) in one window.
/// Writing SLP_EN with SLP_TYP = 5 (S5, soft-off) ends the VM with status 0; with SLP_TYP = 1
/// (S3, suspend to RAM) it tells the sleep handler, which stops the vCPUs until a wake event
/// (woke()). The SCI (when set_sci gave one) is high while an enabled fixed event's status
/// bit is set (ACPI 6.5, 4.8.3.1).
class AcpiPower final : public BusDevice {
  public:
    static constexpr std::uint64_t window_size = 6;
    /// PM1 status / enable bits (ACPI 6.5, tables 4.16 and 4.17).
    static constexpr std::uint16_t timer_event = 1u << 0;        ///< TMR_STS / TMR_EN
    static constexpr std::uint16_t power_button_event = 1u << 8; ///< PWRBTN_STS / PWRBTN_EN
    static constexpr std::uint16_t rtc_event = 1u << 10;         ///< RTC_STS / RTC_EN
    static constexpr std::uint16_t wake_status = 1u << 15;       ///< WAK_STS (status only)
    /// PM1 control bits (ACPI 6.5, table 4.18).
    static constexpr std::uint16_t sci_enable = 1u << 0;    ///< SCI_EN
    static constexpr unsigned sleep_type_shift = 10;        ///< SLP_TYP, bits 10-12
    static constexpr std::uint16_t sleep_enable = 1u << 13; ///< SLP_EN (write-only)
    /// The SLP_TYP values of Vessel's DSDT (_S3 and _S5 packages).
    static constexpr std::uint16_t suspend_to_ram_type = 1;
    static constexpr std::uint16_t soft_off_type = 5;

    /// Told on the vCPU thread that wrote SLP_EN for S3, after the write (no lock held).
    using SleepHandler = std::function<void()>;

    explicit AcpiPower(ExitSink& exits) : m_exits(exits) {}

    std::string_view name() const override { return "acpi pm1"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    /// The SCI line (ISA IRQ 9 in the FADT); none by default.
    void set_sci(IrqLine sci);
    /// Who suspends the machine on an S3 request; without one, S3 requests are ignored.
    void set_sleep_handler(SleepHandler handler);

    /// The RTC alarm fired (the RTC's interrupt output): sets RTC_STS. Returns whether RTC_EN
    /// is set, i.e. whether the event wakes a sleeping machine. Any thread.
    bool rtc_alarm();
    /// The machine left S3: sets WAK_STS, as hardware does before the firmware jumps to the
    /// waking vector (ACPI 6.5, 16.3.2). Any thread.
    void woke();
    /// PM1 status and enable as 16-bit values (tests, logs).
    std::uint16_t status() const;
    std::uint16_t enable() const;

    /// Snapshot state (docs/SNAPSHOT_FORMAT.md): saved while the VM is paused, loaded before
    /// it runs. The IRQ line is not driven on load: the interrupt controllers' saved state
    /// already holds its level.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    std::uint16_t word_at(std::uint64_t offset) const;
    /// Drives the SCI from status & enable (m_mutex held).
    void update_sci();

    mutable std::mutex m_mutex;
    ExitSink& m_exits;
    IrqLine m_sci;
    SleepHandler m_sleep_handler;
    bool m_sci_level{false};
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
