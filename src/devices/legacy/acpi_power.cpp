// AcpiPower and ResetControl (ACPI 6.5 section 4.8.3 PM1 registers, table 4.13 SLP_TYP/SLP_EN).
#include "devices/legacy/acpi_power.hpp"

namespace vessel {

namespace {
constexpr std::uint64_t control_offset = 4;
constexpr std::uint16_t sleep_type_shift = 10;   ///< PM1_CNT.SLP_TYP, bits 10-12
constexpr std::uint16_t sleep_enable = 1u << 13; ///< PM1_CNT.SLP_EN (write-only)
constexpr std::uint16_t soft_off_type = 5;       ///< matches _S5 in Vessel's DSDT
constexpr std::uint8_t reset_cpu_bit = 1u << 2;  ///< 0xcf9 bit 2: reset CPU
} // namespace

std::uint8_t& AcpiPower::register_byte(std::uint64_t offset) {
    return m_registers[offset];
}

void AcpiPower::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::lock_guard lock(m_mutex);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = offset + i < window_size ? register_byte(offset + i) : 0;
}

void AcpiPower::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    std::unique_lock lock(m_mutex);
    for (std::size_t i = 0; i < data.size() && offset + i < window_size; ++i) {
        std::uint64_t at = offset + i;
        if (at < 2)
            register_byte(at) &= static_cast<std::uint8_t>(~data[i]); // status: write 1 to clear
        else
            register_byte(at) = data[i];
    }
    std::uint16_t control = static_cast<std::uint16_t>(m_registers[control_offset] |
                                                       (m_registers[control_offset + 1] << 8));
    if (!(control & sleep_enable)) return;
    m_registers[control_offset + 1] &= static_cast<std::uint8_t>(~(sleep_enable >> 8));
    std::uint16_t sleep_type = (control >> sleep_type_shift) & 7;
    lock.unlock();
    if (sleep_type == soft_off_type)
        m_exits.request_exit(
            {ExitRequest::Kind::PowerOff, exit_status::clean, "guest powered off through ACPI"});
}

void ResetControl::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (offset == 0 && !data.empty() && (data[0] & reset_cpu_bit))
        m_exits.request_exit(
            {ExitRequest::Kind::Reset, exit_status::clean, "guest reset through port 0xcf9"});
}

} // namespace vessel
