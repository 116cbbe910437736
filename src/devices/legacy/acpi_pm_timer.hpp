// AcpiPmTimer: the ACPI power-management timer (ACPI 6.5 section 4.8.3.3, PM_TMR_BLK), a free
// running 3.579545 MHz counter the guest reads with one `inl`.
#pragma once

#include <cstdint>

#include "base/monotonic_clock.hpp"
#include "devices/bus_device.hpp"

namespace vessel {

/// The 32-bit PM timer (the FADT sets TMR_VAL_EXT). A read is computed from the injected clock:
/// one clock call and a multiplication, no lock, no exit request, no other device touched, so
/// it costs what any port read costs (a guest may poll it in a tight loop). Writes are ignored
/// (the register is read-only). The carry interrupt (TMR_STS/TMR_EN in PM1) is not modelled:
/// no SCI when bit 31 toggles; operating systems poll the counter. Not in snapshots: like the
/// host's clock it keeps running while a VM is paused or saved (guests keep time with the TSC).
class AcpiPmTimer final : public BusDevice {
  public:
    static constexpr std::uint64_t window_size = 4;
    static constexpr std::uint64_t frequency_hz = 3'579'545;

    explicit AcpiPmTimer(MonotonicClock clock) : m_clock(std::move(clock)) {}

    std::string_view name() const override { return "acpi pm timer"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t, std::span<const std::uint8_t>) override {}

    /// The counter now (32 bits).
    std::uint32_t count() const;

  private:
    MonotonicClock m_clock;
};

} // namespace vessel
