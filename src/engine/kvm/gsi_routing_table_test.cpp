// GsiRoutingTable: irqchip defaults kept, MSI GSIs allocated, released and routed.
#include "engine/kvm/gsi_routing_table.hpp"

#include <gtest/gtest.h>

using vessel::kvm::GsiRoutingTable;

namespace {
std::vector<kvm_irq_routing_entry> routes_of(const GsiRoutingTable& table, std::uint32_t gsi) {
    std::vector<kvm_irq_routing_entry> found;
    for (const auto& entry : table.entries())
        if (entry.gsi == gsi) found.push_back(entry);
    return found;
}
} // namespace

TEST(GsiRoutingTable, KeepsTheKernelsIrqchipRoutes) {
    GsiRoutingTable table(1024);
    // 16 GSIs on PIC + IOAPIC, 8 more on the IOAPIC only: what KVM_CREATE_IRQCHIP installs.
    EXPECT_EQ(table.entries().size(), 16u * 2 + 8);
    const auto timer = routes_of(table, 0);
    ASSERT_EQ(timer.size(), 2u);
    EXPECT_EQ(timer[0].type, static_cast<std::uint32_t>(KVM_IRQ_ROUTING_IRQCHIP));
    EXPECT_EQ(timer[0].u.irqchip.irqchip, static_cast<std::uint32_t>(KVM_IRQCHIP_IOAPIC));
    EXPECT_EQ(timer[1].u.irqchip.irqchip, static_cast<std::uint32_t>(KVM_IRQCHIP_PIC_MASTER));
    const auto rtc = routes_of(table, 8);
    ASSERT_EQ(rtc.size(), 2u);
    EXPECT_EQ(rtc[1].u.irqchip.irqchip, static_cast<std::uint32_t>(KVM_IRQCHIP_PIC_SLAVE));
    EXPECT_EQ(rtc[1].u.irqchip.pin, 0u);
    const auto pci = routes_of(table, 19);
    ASSERT_EQ(pci.size(), 1u);
    EXPECT_EQ(pci[0].u.irqchip.irqchip, static_cast<std::uint32_t>(KVM_IRQCHIP_IOAPIC));
    EXPECT_EQ(pci[0].u.irqchip.pin, 19u);
}

TEST(GsiRoutingTable, AllocatesMsiGsisAboveTheIrqchip) {
    GsiRoutingTable table(26);
    EXPECT_EQ(table.allocate(), 24u);
    EXPECT_EQ(table.allocate(), 25u);
    EXPECT_EQ(table.allocate(), std::nullopt); // limit reached
    table.release(24);
    EXPECT_EQ(table.allocate(), 24u); // freed GSIs are reused
}

TEST(GsiRoutingTable, RoutesMessagesOfAllocatedGsisOnly) {
    GsiRoutingTable table(1024);
    const std::uint32_t gsi = table.allocate().value();
    table.set_msi(gsi, 0x1'fee0'1000, 0x41);
    table.set_msi(500, 0xfee00000, 0x42); // never allocated: ignored
    auto routes = routes_of(table, gsi);
    ASSERT_EQ(routes.size(), 1u);
    EXPECT_EQ(routes[0].type, static_cast<std::uint32_t>(KVM_IRQ_ROUTING_MSI));
    EXPECT_EQ(routes[0].u.msi.address_lo, 0xfee01000u);
    EXPECT_EQ(routes[0].u.msi.address_hi, 1u);
    EXPECT_EQ(routes[0].u.msi.data, 0x41u);
    EXPECT_TRUE(routes_of(table, 500).empty());
    table.set_msi(gsi, 0xfee00000, 0x43); // rewritten in place
    EXPECT_EQ(routes_of(table, gsi)[0].u.msi.data, 0x43u);
    table.clear_msi(gsi);
    EXPECT_TRUE(routes_of(table, gsi).empty());
    table.set_msi(gsi, 0xfee00000, 0x44);
    table.release(gsi);
    EXPECT_TRUE(routes_of(table, gsi).empty());
}

TEST(GsiRoutingTable, IoctlArgumentHasTheKernelLayout) {
    GsiRoutingTable table(1024);
    const std::uint32_t gsi = table.allocate().value();
    table.set_msi(gsi, 0xfee00000, 0x50);
    const auto storage = table.ioctl_argument();
    // Sound: ioctl_argument() lays out a kvm_irq_routing header and its entries.
    const auto* routing = reinterpret_cast<const kvm_irq_routing*>(storage.get());
    ASSERT_EQ(routing->nr, 16u * 2 + 8 + 1);
    EXPECT_EQ(routing->entries[routing->nr - 1].gsi, gsi);
    EXPECT_EQ(routing->entries[routing->nr - 1].u.msi.data, 0x50u);
    EXPECT_EQ(routing->entries[0].gsi, 0u);
}
