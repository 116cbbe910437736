// AcpiPmTimer (ACPI 6.5 section 4.8.3.3 "Power Management Timer", table 5.9 PM_TMR_BLK).
#include "devices/legacy/acpi_pm_timer.hpp"

namespace vessel {

namespace {
constexpr std::uint64_t ns_per_second = 1'000'000'000;
}

std::uint32_t AcpiPmTimer::count() const {
    const auto ticks = static_cast<unsigned __int128>(m_clock()) * frequency_hz / ns_per_second;
    return static_cast<std::uint32_t>(ticks);
}

void AcpiPmTimer::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    const std::uint32_t value = count();
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = offset + i < window_size ? static_cast<std::uint8_t>(value >> (8 * (offset + i)))
                                           : std::uint8_t{0xff};
}

} // namespace vessel
