// GsiRoutingTable: GSI allocation and the kvm_irq_routing array.
#include "engine/kvm/gsi_routing_table.hpp"

#include <cstring>

namespace vessel::kvm {

namespace {
kvm_irq_routing_entry irqchip_entry(std::uint32_t gsi, std::uint32_t chip, std::uint32_t pin) {
    kvm_irq_routing_entry entry{};
    entry.gsi = gsi;
    entry.type = KVM_IRQ_ROUTING_IRQCHIP;
    entry.u.irqchip.irqchip = chip;
    entry.u.irqchip.pin = pin;
    return entry;
}
} // namespace

std::optional<std::uint32_t> GsiRoutingTable::allocate() {
    for (std::uint32_t gsi = irqchip_gsi_count; gsi < m_gsi_limit; ++gsi) {
        if (m_allocated.insert(gsi).second) return gsi;
    }
    return std::nullopt;
}

void GsiRoutingTable::release(std::uint32_t gsi) {
    m_allocated.erase(gsi);
    m_messages.erase(gsi);
}

void GsiRoutingTable::set_msi(std::uint32_t gsi, std::uint64_t address, std::uint32_t data) {
    if (m_allocated.contains(gsi)) m_messages[gsi] = {address, data};
}

void GsiRoutingTable::clear_msi(std::uint32_t gsi) {
    m_messages.erase(gsi);
}

std::vector<kvm_irq_routing_entry> GsiRoutingTable::entries() const {
    std::vector<kvm_irq_routing_entry> entries;
    for (std::uint32_t gsi = 0; gsi < irqchip_gsi_count; ++gsi) {
        entries.push_back(irqchip_entry(gsi, KVM_IRQCHIP_IOAPIC, gsi));
        if (gsi < pic_gsi_count)
            entries.push_back(irqchip_entry(
                gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8));
    }
    for (const auto& [gsi, message] : m_messages) {
        kvm_irq_routing_entry entry{};
        entry.gsi = gsi;
        entry.type = KVM_IRQ_ROUTING_MSI;
        entry.u.msi.address_lo = static_cast<std::uint32_t>(message.address);
        entry.u.msi.address_hi = static_cast<std::uint32_t>(message.address >> 32);
        entry.u.msi.data = message.data;
        entries.push_back(entry);
    }
    return entries;
}

std::unique_ptr<std::uint8_t[]> GsiRoutingTable::ioctl_argument() const {
    const auto list = entries();
    const std::size_t bytes = sizeof(kvm_irq_routing) + list.size() * sizeof(kvm_irq_routing_entry);
    std::unique_ptr<std::uint8_t[]> storage(new std::uint8_t[bytes]());
    // Sound: storage is zeroed, sized for the header plus its flexible array and new[]-aligned.
    auto* routing = reinterpret_cast<kvm_irq_routing*>(storage.get());
    routing->nr = static_cast<std::uint32_t>(list.size());
    std::memcpy(routing->entries, list.data(), list.size() * sizeof(kvm_irq_routing_entry));
    return storage;
}

} // namespace vessel::kvm
