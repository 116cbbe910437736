// CmosRtc: the MC146818 real-time clock and CMOS memory at ports 0x70/0x71, showing host time,
// with its alarm (IRQ 8, and the wake event of ACPI's PM1 RTC_STS).
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>

#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"
#include "devices/interrupt_sink.hpp"

namespace vessel {

/// Time registers read the host's UTC clock (plus whatever offset the guest set); the rest of
/// the 128 bytes is plain CMOS memory, pre-filled with the memory sizes BIOSes report. The
/// alarm (seconds, minutes, hours alarm registers; 0xc0-0xff is "any") sets register C's AF
/// when the clock reaches it; with register B's AIE that also sets IRQF, raises IRQ 8 until
/// register C is read, and tells the alarm handler. Nothing inside the device ticks: update()
/// (and a read of register C) look at every second since the last look.
class CmosRtc final : public BusDevice {
  public:
    using Clock = std::function<std::time_t()>;
    /// Told (no lock held) when the alarm fires with AIE set: the RTC's interrupt output, which
    /// also reaches the ACPI fixed event RTC_STS.
    using AlarmHandler = std::function<void()>;
    /// Register B and C bits (MC146818A datasheet, "Register B" / "Register C").
    static constexpr std::uint8_t alarm_interrupt_enable = 1u << 5; ///< B: AIE
    static constexpr std::uint8_t alarm_flag = 1u << 5;             ///< C: AF
    static constexpr std::uint8_t interrupt_request_flag = 1u << 7; ///< C: IRQF
    static constexpr std::uint32_t irq = 8;
    static constexpr std::uint8_t status_c_index = 0x0c;
    static constexpr std::uint16_t base_port = 0x70;
    static constexpr std::uint64_t window_size = 2;

    /// memory_size: guest RAM in bytes, reported in the conventional CMOS size fields.
    explicit CmosRtc(
        std::uint64_t memory_size, Clock clock = [] { return std::time(nullptr); });

    std::string_view name() const override { return "cmos rtc"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    /// The interrupt line (IRQ 8) and who else hears the alarm; none by default.
    void set_irq(IrqLine line);
    void set_alarm_handler(AlarmHandler handler);
    /// Checks the alarm against every second the clock passed since the last check (at most a
    /// day back). Any thread; call it at least once a second while an alarm matters.
    void update();

    /// Snapshot state (docs/SNAPSHOT_FORMAT.md): saved while the VM is paused, loaded before
    /// it runs. The IRQ line is not driven on load: the interrupt controllers' saved state
    /// already holds its level.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    std::uint8_t read_register(std::uint8_t index);
    void write_register(std::uint8_t index, std::uint8_t value);
    std::uint8_t encode(int value) const;
    int decode(std::uint8_t value) const;
    /// Whether the alarm registers match the clock at guest time `at`.
    bool alarm_matches(std::time_t at) const;
    /// Runs the alarm up to now (m_mutex held); returns whether the handler must be told.
    bool check_alarm_locked();
    /// The IRQ level follows register C's IRQF (m_mutex held).
    void update_irq_locked();

    std::mutex m_mutex;
    Clock m_clock;
    std::array<std::uint8_t, 128> m_memory{};
    std::uint8_t m_index{0};
    std::time_t m_offset{0};  ///< guest-set time minus host time
    std::time_t m_checked{0}; ///< guest time of the last second the alarm was checked for
    IrqLine m_irq;
    bool m_irq_level{false};
    AlarmHandler m_alarm_handler;
};

} // namespace vessel
