// GsiRoutingTable: the whole KVM GSI routing table (irqchip pins plus MSI routes) of one VM.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "base/kvm_uapi.hpp"

namespace vessel::kvm {

/// KVM_SET_GSI_ROUTING replaces the whole table (api.rst 4.52), so this keeps all of it: the
/// routes the kernel installs with KVM_CREATE_IRQCHIP (GSI 0-15 to the PIC and the IOAPIC pin
/// of the same number, 16-23 to the IOAPIC only; arch/x86/kvm/irq_comm.c default_routing),
/// which legacy IRQ lines need, and one MSI route per allocated GSI from 24 up. Pure logic.
class GsiRoutingTable {
  public:
    static constexpr std::uint32_t irqchip_gsi_count = 24; ///< IOAPIC pins (PIC: the first 16)
    static constexpr std::uint32_t pic_gsi_count = 16;

    /// gsi_limit: how many GSIs KVM routes (KVM_CHECK_EXTENSION(KVM_CAP_IRQ_ROUTING)).
    explicit GsiRoutingTable(std::uint32_t gsi_limit) : m_gsi_limit(gsi_limit) {}

    /// The lowest free GSI above the irqchip's, or nothing when all are taken.
    std::optional<std::uint32_t> allocate();
    /// Frees gsi (and drops its MSI route).
    void release(std::uint32_t gsi);
    /// Routes allocated gsi to the MSI message (address, data); ignored for other GSIs.
    void set_msi(std::uint32_t gsi, std::uint64_t address, std::uint32_t data);
    /// Removes gsi's MSI route (the GSI stays allocated).
    void clear_msi(std::uint32_t gsi);

    /// Every route, irqchip entries first, in GSI order.
    std::vector<kvm_irq_routing_entry> entries() const;
    /// The KVM_SET_GSI_ROUTING argument: struct kvm_irq_routing followed by entries(); the
    /// storage is new[]-allocated, so aligned for the header and its entries.
    std::unique_ptr<std::uint8_t[]> ioctl_argument() const;

  private:
    struct Message {
        std::uint64_t address;
        std::uint32_t data;
    };
    std::uint32_t m_gsi_limit;
    std::set<std::uint32_t> m_allocated;
    std::map<std::uint32_t, Message> m_messages;
};

} // namespace vessel::kvm
