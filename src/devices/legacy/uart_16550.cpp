// Uart16550: register model after the TI/NS 16550A datasheet.
#include "devices/legacy/uart_16550.hpp"

namespace vessel {

namespace {
// Register offsets from the base port (16550A datasheet, table 2).
constexpr std::uint64_t data_register = 0;    ///< RBR (read) / THR (write); DLL when DLAB
constexpr std::uint64_t interrupt_enable = 1; ///< IER; DLM when DLAB
constexpr std::uint64_t interrupt_ident = 2;  ///< IIR (read) / FCR (write)
constexpr std::uint64_t line_control = 3;     ///< LCR
constexpr std::uint64_t modem_control = 4;    ///< MCR
constexpr std::uint64_t line_status = 5;      ///< LSR
constexpr std::uint64_t modem_status = 6;     ///< MSR
constexpr std::uint64_t scratch = 7;          ///< SCR

constexpr std::uint8_t ier_received_data = 0x01;  ///< ERBFI
constexpr std::uint8_t ier_transmit_empty = 0x02; ///< ETBEI
constexpr std::uint8_t lcr_divisor_latch = 0x80;  ///< DLAB
constexpr std::uint8_t mcr_loopback = 0x10;
constexpr std::uint8_t lsr_data_ready = 0x01;
constexpr std::uint8_t lsr_transmit_empty = 0x20;   ///< THRE
constexpr std::uint8_t lsr_transmitter_idle = 0x40; ///< TEMT
constexpr std::uint8_t iir_none = 0x01;
constexpr std::uint8_t iir_transmit_empty = 0x02;
constexpr std::uint8_t iir_received_data = 0x04;
constexpr std::uint8_t iir_fifo_enabled = 0xc0;
constexpr std::uint8_t fcr_enable = 0x01;
constexpr std::uint8_t fcr_clear_receive = 0x02;
// Modem status with no modem attached but loopback off: CTS, DSR and DCD asserted.
constexpr std::uint8_t msr_connected = 0xb0;
} // namespace

void Uart16550::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::lock_guard lock(m_mutex);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = read_register(offset + i);
}

void Uart16550::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    std::lock_guard lock(m_mutex);
    for (std::size_t i = 0; i < data.size(); ++i)
        write_register(offset + i, data[i]);
}

std::size_t Uart16550::enqueue_input(std::span<const std::uint8_t> bytes) {
    std::lock_guard lock(m_mutex);
    if (m_modem_control & mcr_loopback) return 0;
    std::size_t accepted = 0;
    while (accepted < bytes.size() && m_receive.size() < fifo_size)
        m_receive.push_back(bytes[accepted++]);
    update_interrupt();
    return accepted;
}

std::uint64_t Uart16550::transmitted_bytes() const {
    std::lock_guard lock(m_mutex);
    return m_transmitted;
}

std::uint8_t Uart16550::read_register(std::uint64_t offset) {
    bool dlab = m_line_control & lcr_divisor_latch;
    switch (offset) {
    case data_register: {
        if (dlab) return static_cast<std::uint8_t>(m_divisor);
        if (m_receive.empty()) return 0;
        std::uint8_t byte = m_receive.front();
        m_receive.pop_front();
        update_interrupt();
        return byte;
    }
    case interrupt_enable:
        return dlab ? static_cast<std::uint8_t>(m_divisor >> 8) : m_interrupt_enable;
    case interrupt_ident: {
        std::uint8_t ident = interrupt_identification();
        // Reading IIR while it reports THRE clears that source (16550A datasheet, table 4).
        if (ident == iir_transmit_empty) {
            m_transmit_interrupt_pending = false;
            update_interrupt();
        }
        return ident | (m_fifo_enabled ? iir_fifo_enabled : 0);
    }
    case line_control:
        return m_line_control;
    case modem_control:
        return m_modem_control;
    case line_status:
        return lsr_transmit_empty | lsr_transmitter_idle | (m_receive.empty() ? 0 : lsr_data_ready);
    case modem_status:
        if (m_modem_control & mcr_loopback) {
            // Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
            std::uint8_t mcr = m_modem_control;
            return static_cast<std::uint8_t>(((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) |
                                             ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4));
        }
        return msr_connected;
    case scratch:
        return m_scratch;
    default:
        return 0xff;
    }
}

void Uart16550::write_register(std::uint64_t offset, std::uint8_t value) {
    bool dlab = m_line_control & lcr_divisor_latch;
    switch (offset) {
    case data_register:
        if (dlab) {
            m_divisor = static_cast<std::uint16_t>((m_divisor & 0xff00) | value);
            return;
        }
        if (m_modem_control & mcr_loopback) {
            if (m_receive.size() < fifo_size) m_receive.push_back(value);
        } else {
            ++m_transmitted;
            if (m_output) m_output({&value, 1});
        }
        // The transmitter is infinitely fast: THR is empty again at once.
        m_transmit_interrupt_pending = true;
        update_interrupt();
        return;
    case interrupt_enable:
        if (dlab) {
            m_divisor = static_cast<std::uint16_t>((m_divisor & 0x00ff) | (value << 8));
            return;
        }
        // Enabling ETBEI while THR is empty raises the THRE interrupt at once.
        if ((value & ier_transmit_empty) && !(m_interrupt_enable & ier_transmit_empty))
            m_transmit_interrupt_pending = true;
        m_interrupt_enable = value & 0x0f;
        update_interrupt();
        return;
    case interrupt_ident:
        m_fifo_enabled = value & fcr_enable;
        if (value & fcr_clear_receive) m_receive.clear();
        update_interrupt();
        return;
    case line_control:
        m_line_control = value;
        return;
    case modem_control:
        m_modem_control = value & 0x1f;
        update_interrupt();
        return;
    case scratch:
        m_scratch = value;
        return;
    default:
        return; // LSR and MSR are read-only
    }
}

std::uint8_t Uart16550::interrupt_identification() const {
    if ((m_interrupt_enable & ier_received_data) && !m_receive.empty()) return iir_received_data;
    if ((m_interrupt_enable & ier_transmit_empty) && m_transmit_interrupt_pending)
        return iir_transmit_empty;
    return iir_none;
}

void Uart16550::update_interrupt() {
    bool level = interrupt_identification() != iir_none;
    if (level == m_irq_level) return;
    m_irq_level = level;
    m_irq.set_level(level);
}

} // namespace vessel
