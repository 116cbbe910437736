// IoApic: indirect register access, redirection entries, edge/level delivery and EOI.
#include "platform/pc/ioapic.hpp"

namespace vessel {

namespace {

// 82093AA datasheet 3.0 "Register Description": direct registers (offsets in the window).
constexpr std::uint64_t register_select = 0x00; ///< IOREGSEL
constexpr std::uint64_t register_window = 0x10; ///< IOWIN
constexpr std::uint64_t eoi_register = 0x40;    ///< EOI, I/O APIC version 0x20 (ICH datasheets)
// Indirect registers (IOREGSEL index).
constexpr std::uint32_t index_id = 0x00;          ///< IOAPICID, bits 27:24
constexpr std::uint32_t index_version = 0x01;     ///< IOAPICVER
constexpr std::uint32_t index_arbitration = 0x02; ///< IOAPICARB
constexpr std::uint32_t index_redirection = 0x10; ///< IOREDTBL0 low; 2 registers per pin
constexpr std::uint32_t id_mask = 0x0f000000;
constexpr std::uint32_t max_redirection_shift = 16; ///< IOAPICVER bits 23:16
// Redirection entry bits (82093AA 3.2.4).
constexpr std::uint64_t entry_vector = 0xff;
constexpr unsigned entry_delivery_mode_shift = 8;
constexpr std::uint64_t entry_logical = 1u << 11;
constexpr std::uint64_t entry_delivery_status = 1u << 12; ///< read-only
constexpr std::uint64_t entry_remote_irr = 1u << 14;      ///< read-only
constexpr std::uint64_t entry_level = 1u << 15;
constexpr std::uint64_t entry_mask = 1u << 16;
constexpr unsigned entry_destination_shift = 56;
constexpr std::uint64_t entry_writable_low = 0x1ffff & ~(entry_delivery_status | entry_remote_irr);
constexpr std::uint64_t entry_writable_high = 0xff000000; ///< destination field only

} // namespace

IoApic::IoApic(Deliver deliver) : m_deliver(std::move(deliver)) {
    m_redirection.fill(entry_mask); // all pins masked at reset
}

void IoApic::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::lock_guard lock(m_mutex);
    std::uint32_t value = 0;
    if (offset == register_select)
        value = m_select;
    else if (offset == register_window)
        value = read_register(m_select);
    value_to_bytes(value, data);
}

void IoApic::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    std::lock_guard lock(m_mutex);
    const auto value = static_cast<std::uint32_t>(bytes_to_value(data));
    if (offset == register_select)
        m_select = value & 0xff;
    else if (offset == register_window)
        write_register(m_select, value);
    else if (offset == eoi_register)
        end_of_interrupt_locked(static_cast<std::uint8_t>(value));
}

std::uint32_t IoApic::read_register(std::uint32_t index) const {
    switch (index) {
    case index_id:
    case index_arbitration:
        return m_id;
    case index_version:
        return version | ((pin_count - 1) << max_redirection_shift);
    default:
        break;
    }
    if (index < index_redirection || index >= index_redirection + 2 * pin_count) return 0;
    const std::uint64_t entry = m_redirection[(index - index_redirection) / 2];
    return static_cast<std::uint32_t>(index & 1 ? entry >> 32 : entry);
}

void IoApic::write_register(std::uint32_t index, std::uint32_t value) {
    if (index == index_id) {
        m_id = value & id_mask;
        return;
    }
    if (index < index_redirection || index >= index_redirection + 2 * pin_count) return;
    const std::uint32_t pin = (index - index_redirection) / 2;
    std::uint64_t& entry = m_redirection[pin];
    if (index & 1) {
        entry = (entry & 0xffffffff) | (std::uint64_t{value & entry_writable_high} << 32);
        return;
    }
    entry = (entry & ~entry_writable_low) | (value & entry_writable_low);
    if (!(entry & entry_level)) entry &= ~entry_remote_irr; // remote IRR is for level only
    // Unmasking a level pin that is still asserted delivers it now.
    if ((entry & entry_level) && (m_levels & (1u << pin))) service(pin);
}

void IoApic::set_pin_level(std::uint32_t pin, bool level) {
    if (pin >= pin_count) return;
    std::lock_guard lock(m_mutex);
    const std::uint32_t bit = 1u << pin;
    const bool was_asserted = m_levels & bit;
    if (level)
        m_levels |= bit;
    else
        m_levels &= ~bit;
    if (!level) return;
    // Edge pins fire on the rising edge (an edge while masked is lost, 82093AA 3.2.4);
    // level pins fire while asserted, gated by remote IRR.
    if ((m_redirection[pin] & entry_level) || !was_asserted) service(pin);
}

void IoApic::end_of_interrupt(std::uint8_t vector) {
    std::lock_guard lock(m_mutex);
    end_of_interrupt_locked(vector);
}

void IoApic::end_of_interrupt_locked(std::uint8_t vector) {
    for (std::uint32_t pin = 0; pin < pin_count; ++pin) {
        std::uint64_t& entry = m_redirection[pin];
        if ((entry & entry_vector) != vector || !(entry & entry_remote_irr)) continue;
        entry &= ~entry_remote_irr;
        if (m_levels & (1u << pin)) service(pin); // still asserted: interrupt again
    }
}

void IoApic::service(std::uint32_t pin) {
    std::uint64_t& entry = m_redirection[pin];
    if (entry & entry_mask) return;
    const bool level = entry & entry_level;
    if (level && (entry & entry_remote_irr)) return;
    ApicMessage message;
    message.vector = static_cast<std::uint8_t>(entry & entry_vector);
    message.delivery_mode =
        static_cast<ApicMessage::DeliveryMode>((entry >> entry_delivery_mode_shift) & 7);
    message.logical_destination = entry & entry_logical;
    message.level_triggered = level;
    message.destination = static_cast<std::uint32_t>(entry >> entry_destination_shift);
    const bool accepted = m_deliver && m_deliver(message);
    if (accepted && level) entry |= entry_remote_irr;
}

} // namespace vessel
