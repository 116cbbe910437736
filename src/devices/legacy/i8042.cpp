// I8042: controller commands and the few keyboard commands Linux's atkbd probe sends.
#include "devices/legacy/i8042.hpp"

namespace vessel {

namespace {
constexpr std::uint64_t data_offset = 0;   ///< port 0x60
constexpr std::uint64_t status_offset = 4; ///< port 0x64

constexpr std::uint8_t status_output_full = 0x01;
constexpr std::uint8_t status_system = 0x04;

// Controller commands (IBM PC/AT technical reference, 8042 commands).
constexpr std::uint8_t command_read_config = 0x20;
constexpr std::uint8_t command_write_config = 0x60;
constexpr std::uint8_t command_disable_aux = 0xa7;
constexpr std::uint8_t command_enable_aux = 0xa8;
constexpr std::uint8_t command_test_aux = 0xa9;
constexpr std::uint8_t command_self_test = 0xaa;
constexpr std::uint8_t command_test_keyboard = 0xab;
constexpr std::uint8_t command_disable_keyboard = 0xad;
constexpr std::uint8_t command_enable_keyboard = 0xae;
constexpr std::uint8_t command_read_output_port = 0xd0;
constexpr std::uint8_t command_write_output_port = 0xd1;
constexpr std::uint8_t command_write_aux = 0xd4;
constexpr std::uint8_t command_pulse_reset = 0xfe;

constexpr std::uint8_t keyboard_ack = 0xfa;
constexpr std::uint8_t config_keyboard_interrupt = 0x01;
} // namespace

void I8042::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::lock_guard lock(m_mutex);
    std::uint8_t value = 0xff;
    if (offset == data_offset) {
        value = 0;
        if (!m_output.empty()) {
            value = m_output.front();
            m_output.pop_front();
        }
        // IRQ 1 is edge-triggered at the PIC: drop the line after each byte so the next queued
        // byte makes a fresh edge (Linux's i8042 driver reads one byte per interrupt).
        m_irq.set_level(false);
        update_interrupt();
    } else if (offset == status_offset) {
        value = status_system | (m_output.empty() ? 0 : status_output_full);
    }
    for (auto& byte : data)
        byte = value;
}

void I8042::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (data.empty()) return;
    std::unique_lock lock(m_mutex);
    if (offset == status_offset) {
        if (data[0] == command_pulse_reset) {
            lock.unlock();
            m_exits.request_exit({ExitRequest::Kind::Reset, 0, "guest reset through the i8042"});
            return;
        }
        write_command(data[0]);
    } else if (offset == data_offset) {
        write_data(data[0]);
    }
}

void I8042::send_ctrl_alt_del() {
    std::lock_guard lock(m_mutex);
    // Set 1 make/break codes: Ctrl 0x1d, Alt 0x38, Del 0xe0 0x53.
    for (std::uint8_t byte : {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d})
        push_output(byte);
    update_interrupt();
}

void I8042::write_command(std::uint8_t command) {
    switch (command) {
    case command_read_config:
        push_output(m_control);
        break;
    case command_write_config:
    case command_write_output_port:
    case command_write_aux:
        m_pending_command = command;
        break;
    case command_self_test:
        push_output(0x55);
        break;
    case command_test_keyboard:
    case command_test_aux:
        push_output(0x00);
        break;
    case command_read_output_port:
        push_output(m_output_port);
        break;
    case command_disable_keyboard:
        m_control |= 0x10;
        break;
    case command_enable_keyboard:
        m_control &= ~0x10;
        break;
    case command_disable_aux:
        m_control |= 0x20;
        break;
    case command_enable_aux:
        m_control &= ~0x20;
        break;
    default:
        break;
    }
    update_interrupt();
}

void I8042::write_data(std::uint8_t value) {
    std::uint8_t pending = m_pending_command;
    m_pending_command = 0;
    switch (pending) {
    case command_write_config:
        m_control = value;
        break;
    case command_write_output_port:
        m_output_port = value;
        break;
    case command_write_aux:
        break; // no mouse: the byte is dropped
    default:
        keyboard_command(value);
        break;
    }
    update_interrupt();
}

void I8042::keyboard_command(std::uint8_t command) {
    switch (command) {
    case 0xff: // reset: ack then self-test passed
        push_output(keyboard_ack);
        push_output(0xaa);
        break;
    case 0xf2: // identify: MF2 keyboard
        push_output(keyboard_ack);
        push_output(0xab);
        push_output(0x83);
        break;
    case 0xee:
        push_output(0xee);
        break; // echo
    default:
        push_output(keyboard_ack);
        break;
    }
}

void I8042::push_output(std::uint8_t byte) {
    if (m_output.size() < 16) m_output.push_back(byte);
}

void I8042::update_interrupt() {
    bool level = !m_output.empty() && (m_control & config_keyboard_interrupt);
    m_irq.set_level(level);
}

} // namespace vessel
