// AcpiPower and ResetControl (ACPI 6.5 section 4.8.3 PM1 registers, table 4.13 SLP_TYP/SLP_EN,
// 16.1.3 and 16.3 sleeping and waking).
#include "devices/legacy/acpi_power.hpp"

#include "base/log.hpp"

namespace vessel {

namespace {
constexpr std::uint64_t status_offset = 0;
constexpr std::uint64_t enable_offset = 2;
constexpr std::uint64_t control_offset = 4;
/// Fixed events that raise the SCI when both their status and enable bits are set.
constexpr std::uint16_t sci_events =
    AcpiPower::timer_event | AcpiPower::power_button_event | AcpiPower::rtc_event;
constexpr std::uint8_t reset_cpu_bit = 1u << 2; ///< 0xcf9 bit 2: reset CPU
} // namespace

std::uint16_t AcpiPower::word_at(std::uint64_t offset) const {
    return static_cast<std::uint16_t>(m_registers[offset] | (m_registers[offset + 1] << 8));
}

void AcpiPower::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::lock_guard lock(m_mutex);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = offset + i < window_size ? m_registers[offset + i] : 0;
}

void AcpiPower::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    std::unique_lock lock(m_mutex);
    for (std::size_t i = 0; i < data.size() && offset + i < window_size; ++i) {
        std::uint64_t at = offset + i;
        if (at < enable_offset)
            m_registers[at] &= static_cast<std::uint8_t>(~data[i]); // status: write 1 to clear
        else
            m_registers[at] = data[i];
    }
    update_sci();
    const std::uint16_t control = word_at(control_offset);
    if (!(control & sleep_enable)) return;
    m_registers[control_offset + 1] &= static_cast<std::uint8_t>(~(sleep_enable >> 8));
    const std::uint16_t sleep_type = (control >> sleep_type_shift) & 7;
    SleepHandler handler = m_sleep_handler;
    lock.unlock();
    if (sleep_type == soft_off_type) {
        m_exits.request_exit(
            {ExitRequest::Kind::PowerOff, exit_status::clean, "guest powered off through ACPI"});
    } else if (sleep_type == suspend_to_ram_type && handler) {
        handler();
    } else {
        log::debug("ACPI: sleep type {} requested (not in the DSDT), ignored", sleep_type);
    }
}

void AcpiPower::set_sci(IrqLine sci) {
    std::lock_guard lock(m_mutex);
    m_sci = sci;
    m_sci_level = false;
    update_sci();
}

void AcpiPower::set_sleep_handler(SleepHandler handler) {
    std::lock_guard lock(m_mutex);
    m_sleep_handler = std::move(handler);
}

void AcpiPower::update_sci() {
    const bool level = (word_at(status_offset) & word_at(enable_offset) & sci_events) != 0 &&
                       (word_at(control_offset) & sci_enable);
    if (level == m_sci_level) return;
    m_sci_level = level;
    m_sci.set_level(level);
}

bool AcpiPower::rtc_alarm() {
    std::lock_guard lock(m_mutex);
    m_registers[status_offset + 1] |= static_cast<std::uint8_t>(rtc_event >> 8);
    update_sci();
    return (word_at(enable_offset) & rtc_event) != 0;
}

void AcpiPower::woke() {
    std::lock_guard lock(m_mutex);
    m_registers[status_offset + 1] |= static_cast<std::uint8_t>(wake_status >> 8);
    update_sci();
}

std::uint16_t AcpiPower::status() const {
    std::lock_guard lock(m_mutex);
    return word_at(status_offset);
}

std::uint16_t AcpiPower::enable() const {
    std::lock_guard lock(m_mutex);
    return word_at(enable_offset);
}

void ResetControl::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (offset == 0 && !data.empty() && (data[0] & reset_cpu_bit))
        m_exits.request_exit(
            {ExitRequest::Kind::Reset, exit_status::clean, "guest reset through port 0xcf9"});
}

} // namespace vessel
