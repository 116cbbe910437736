// Snapshot state of the legacy devices: UART 16550, i8042, CMOS RTC, fw_cfg, ACPI power.
#include "devices/legacy/acpi_power.hpp"
#include "devices/legacy/cmos_rtc.hpp"
#include "devices/legacy/fw_cfg.hpp"
#include "devices/legacy/i8042.hpp"
#include "devices/legacy/uart_16550.hpp"

namespace vessel {

void Uart16550::save_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    writer(m_receive, m_divisor, m_interrupt_enable, m_line_control, m_modem_control, m_scratch,
           m_fifo_enabled, m_transmit_interrupt_pending, m_irq_level, m_transmitted);
}

void Uart16550::load_state(StateReader& reader) {
    std::lock_guard lock(m_mutex);
    reader(m_receive, m_divisor, m_interrupt_enable, m_line_control, m_modem_control, m_scratch,
           m_fifo_enabled, m_transmit_interrupt_pending, m_irq_level, m_transmitted);
}

void I8042::save_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    writer(m_output, m_control, m_pending_command, m_output_port);
}

void I8042::load_state(StateReader& reader) {
    std::lock_guard lock(m_mutex);
    reader(m_output, m_control, m_pending_command, m_output_port);
}

void CmosRtc::save_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    const std::int64_t offset = m_offset;
    writer(m_memory, m_index, offset);
}

void CmosRtc::load_state(StateReader& reader) {
    std::lock_guard lock(m_mutex);
    std::int64_t offset = 0;
    reader(m_memory, m_index, offset);
    reader.check(m_index < m_memory.size(), "CMOS register index");
    // The guest's clock keeps its offset from the host's wall clock: restored later, it shows
    // the real time (as a machine whose battery-backed clock ran while it was off).
    m_offset = static_cast<std::time_t>(offset);
    m_checked = m_clock() + m_offset; // an alarm that passed while saved does not fire late
    m_irq_level = (m_memory[status_c_index] & interrupt_request_flag) != 0;
}

void FwCfg::save_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    const std::uint64_t position = m_position;
    writer(m_selector, position);
}

void FwCfg::load_state(StateReader& reader) {
    std::lock_guard lock(m_mutex);
    std::uint64_t position = 0;
    reader(m_selector, position);
    m_position = static_cast<std::size_t>(position); // reads past an item's end return 0
}

void AcpiPower::save_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    writer(m_registers);
}

void AcpiPower::load_state(StateReader& reader) {
    std::lock_guard lock(m_mutex);
    reader(m_registers);
    // The SCI's level is in the interrupt controllers' saved state; only remember it.
    m_sci_level = (word_at(0) & word_at(2) & (timer_event | power_button_event | rtc_event)) &&
                  (word_at(4) & sci_enable);
}

} // namespace vessel
