// PciBus: CONFIG_ADDRESS decoding, slot lookup and BAR windows on the MMIO bus.
#include "devices/pci/pci_bus.hpp"

#include "base/log.hpp"

namespace vessel::pci {

namespace {
// CONFIG_ADDRESS fields (PCI Local Bus 3.0 §3.2.2.3.2, figure 3-2).
constexpr std::uint32_t address_enable = 1u << 31;
constexpr unsigned address_bus_shift = 16;
constexpr unsigned address_slot_shift = 11;
constexpr unsigned address_function_shift = 8;
constexpr std::uint32_t address_register_mask = 0xfc;
constexpr std::uint32_t address_writable = 0x80ff'fffc; ///< bits 30:24 and 1:0 are reserved
} // namespace

PciBus::PciBus(Bus& mmio_bus, InterruptSink* interrupts)
    : m_mmio_bus(mmio_bus), m_interrupts(interrupts) {}

PciBus::~PciBus() {
    for (auto& slot : m_slots) {
        if (slot.device == nullptr) continue;
        for (std::uint32_t index = 0; index < config::bar_count; ++index)
            if (slot.mapped[index])
                m_mmio_bus.remove(*slot.windows[index], *slot.mapped[index]);
    }
}

Result<std::uint32_t> PciBus::add(PciDevice& device) {
    std::lock_guard lock(m_mutex);
    if (m_used_slots == slot_count)
        return make_error("PCI bus 0 is full: no slot for {}", device.name());
    const std::uint32_t slot = m_used_slots;
    for (std::uint32_t index = 0; index < config::bar_count; ++index) {
        const std::uint64_t size = device.bar_size(index);
        if (size == 0) continue;
        const std::uint64_t address = (m_next_bar_address + size - 1) & ~(size - 1);
        if (address + size > mmio_window_end)
            return make_error("PCI: no room for BAR {} ({:#x} bytes) of {} below {:#x}", index,
                              size, device.name(), mmio_window_end);
        device.set_bar_address(index, address);
        m_next_bar_address = address + size;
    }
    device.connect_intx(IrqLine(m_interrupts, intx_gsi(slot, 0)));
    m_slots[slot].device = &device;
    ++m_used_slots;
    log::debug("PCI 00:{:02x}.0: {}", slot, device.name());
    return slot;
}

std::uint32_t PciBus::config_read(std::uint32_t bus, std::uint32_t slot, std::uint32_t function,
                                  std::uint32_t offset, unsigned size) {
    std::lock_guard lock(m_mutex);
    const std::uint32_t absent = size == 4 ? 0xffff'ffff : (1u << (8 * size)) - 1;
    if (bus != 0 || slot >= slot_count || function != 0 || m_slots[slot].device == nullptr)
        return absent;
    return m_slots[slot].device->config_read(offset, size);
}

void PciBus::config_write(std::uint32_t bus, std::uint32_t slot, std::uint32_t function,
                          std::uint32_t offset, unsigned size, std::uint32_t value) {
    std::lock_guard lock(m_mutex);
    if (bus != 0 || slot >= slot_count || function != 0 || m_slots[slot].device == nullptr) return;
    m_slots[slot].device->config_write(offset, size, value);
    const bool touches_command = offset <= config::command + 1 && offset + size > config::command;
    const bool touches_bars =
        offset + size > config::bar0 && offset < config::bar0 + 4 * config::bar_count;
    if (touches_command || touches_bars) update_mappings(m_slots[slot]);
}

void PciBus::update_mappings(Slot& slot) {
    PciDevice& device = *slot.device;
    for (std::uint32_t index = 0; index < config::bar_count; ++index) {
        const std::uint64_t size = device.bar_size(index);
        if (size == 0) continue;
        std::optional<std::uint64_t> wanted;
        const std::uint64_t address = device.bar_address(index);
        // A BAR being sized reads back as its size mask; 0 means "not placed". Neither decodes.
        if (device.memory_decoding() && address != 0 &&
            address != (static_cast<std::uint32_t>(~(size - 1)) & ~0xfu))
            wanted = address;
        if (slot.mapped[index] == wanted) continue;
        if (slot.mapped[index]) m_mmio_bus.remove(device.bar_window(index), *slot.mapped[index]);
        slot.mapped[index].reset();
        if (wanted) {
            if (auto inserted = m_mmio_bus.insert(device.bar_window(index), *wanted, size)) {
                slot.mapped[index] = wanted;
                slot.windows[index] = &device.bar_window(index);
            }
            else
                log::warn("PCI {}: BAR {} not mapped: {}", device.name(), index,
                          inserted.error().message);
        }
        device.bar_mapped(index, slot.mapped[index]);
    }
}

// ---- ports ----

void PciBus::AddressPort::read(std::uint64_t, std::span<std::uint8_t> data) {
    if (data.size() != 4) return std::fill(data.begin(), data.end(), 0xff);
    std::lock_guard lock(m_bus.m_mutex);
    value_to_bytes(m_bus.m_config_address, data);
}

void PciBus::AddressPort::write(std::uint64_t, std::span<const std::uint8_t> data) {
    if (data.size() != 4) return; // byte accesses here are not CONFIG_ADDRESS (§3.2.2.3.2)
    std::lock_guard lock(m_bus.m_mutex);
    m_bus.m_config_address = static_cast<std::uint32_t>(bytes_to_value(data)) & address_writable;
}

namespace {
struct Decoded {
    bool enabled;
    std::uint32_t bus, slot, function, offset;
};
Decoded decode(std::uint32_t address, std::uint64_t port_offset) {
    return {(address & address_enable) != 0, (address >> address_bus_shift) & 0xff,
            (address >> address_slot_shift) & 0x1f, (address >> address_function_shift) & 7,
            (address & address_register_mask) + static_cast<std::uint32_t>(port_offset & 3)};
}
} // namespace

void PciBus::DataPort::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::uint32_t address = 0;
    {
        std::lock_guard lock(m_bus.m_mutex);
        address = m_bus.m_config_address;
    }
    const Decoded target = decode(address, offset);
    const auto size = static_cast<unsigned>(data.size());
    if (!target.enabled || size > 4 || (target.offset & (size - 1)) != 0)
        return std::fill(data.begin(), data.end(), 0xff);
    value_to_bytes(m_bus.config_read(target.bus, target.slot, target.function, target.offset, size),
                   data);
}

void PciBus::DataPort::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    std::uint32_t address = 0;
    {
        std::lock_guard lock(m_bus.m_mutex);
        address = m_bus.m_config_address;
    }
    const Decoded target = decode(address, offset);
    const auto size = static_cast<unsigned>(data.size());
    if (!target.enabled || size > 4 || (target.offset & (size - 1)) != 0) return;
    m_bus.config_write(target.bus, target.slot, target.function, target.offset, size,
                       static_cast<std::uint32_t>(bytes_to_value(data)));
}

} // namespace vessel::pci
