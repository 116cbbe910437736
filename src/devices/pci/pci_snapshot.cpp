// Snapshot state of PCI: configuration spaces, the CONFIG_ADDRESS latch, MSI-X tables.
#include "devices/pci/msix_table.hpp"
#include "devices/pci/pci_bus.hpp"
#include "devices/pci/pci_device.hpp"

namespace vessel::pci {

void PciDevice::save_config_state(StateWriter& writer) {
    std::lock_guard lock(m_intx_mutex);
    writer(m_config, m_intx_level, m_intx_driven);
}

void PciDevice::load_config_state(StateReader& reader) {
    std::array<std::uint8_t, config::space_size> loaded{};
    bool level = false, driven = false;
    reader(loaded, level, driven);
    if (!reader.ok()) return;
    // Bytes the guest cannot write (IDs, class, BAR types, capability layout) must be this
    // device's: anything else is a snapshot of another machine. The status register is
    // partly the device's own and is taken as saved.
    for (std::uint32_t offset = 0; offset < config::space_size; ++offset) {
        if (offset == config::status || offset == config::status + 1) continue;
        const std::uint8_t fixed = static_cast<std::uint8_t>(~m_writable[offset]);
        if ((loaded[offset] & fixed) != (m_config[offset] & fixed)) {
            reader.fail(fmt::format("PCI device {}: configuration byte {:#x} is {:#04x} in the "
                                    "snapshot, {:#04x} here (another machine's snapshot?)",
                                    name(), offset, loaded[offset], m_config[offset]));
            return;
        }
    }
    m_config = loaded;
    m_command.store(
        static_cast<std::uint16_t>(m_config[config::command] | m_config[config::command + 1] << 8),
        std::memory_order_relaxed);
    std::lock_guard lock(m_intx_mutex);
    m_intx_level = level; // the interrupt controllers' saved state holds the line's level
    m_intx_driven = driven;
}

void PciBus::save_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    writer(m_config_address);
}

void PciBus::load_state(StateReader& reader) {
    std::lock_guard lock(m_mutex);
    reader(m_config_address);
}

void PciBus::remap_all() {
    std::lock_guard lock(m_mutex);
    for (Slot& slot : m_slots)
        if (slot.device != nullptr) update_mappings(slot);
}

void MsixTable::save_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    writer(static_cast<std::uint32_t>(m_entries.size()), m_enabled, m_function_masked);
    for (const Entry& entry : m_entries)
        writer(entry.address_low, entry.address_high, entry.data, entry.control, entry.pending);
}

void MsixTable::load_state(StateReader& reader) {
    std::lock_guard lock(m_mutex);
    std::uint32_t count = 0;
    reader(count, m_enabled, m_function_masked);
    if (reader.ok() && count != m_entries.size()) {
        reader.fail(fmt::format("MSI-X table of {} vectors in the snapshot, {} here", count,
                                m_entries.size()));
        return;
    }
    for (Entry& entry : m_entries)
        reader(entry.address_low, entry.address_high, entry.data, entry.control, entry.pending);
    if (reader.ok()) update_routes_locked(); // KVM: GSI routes for the restored messages
}

} // namespace vessel::pci
