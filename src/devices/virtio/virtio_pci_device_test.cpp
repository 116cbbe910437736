// VirtioPciDevice + VirtioRng driven like Linux's virtio_pci_modern driver, through PCI ports
// and the MMIO bus, with rings in real guest memory.
#include "devices/virtio/virtio_pci_device.hpp"

#include <map>

#include <gtest/gtest.h>

#include "devices/pci/pci_test_support.hpp"
#include "devices/virtio/virtio_rng.hpp"
#include "devices/virtio/virtio_test_support.hpp"

using namespace vessel;
using namespace vessel::virtio;
using namespace vessel::testing;

namespace {

/// An engine that takes doorbells (like KVM's ioeventfd): remembers what is registered, and
/// a test rings a doorbell the way the engine's I/O thread would.
struct RecordingDoorbellSink final : DoorbellSink {
    struct Registration final : Doorbell {
        Registration(RecordingDoorbellSink& owner, std::uint64_t at) : sink(owner), address(at) {}
        ~Registration() override { sink.live.erase(address); }
        RecordingDoorbellSink& sink;
        std::uint64_t address;
    };
    Result<std::unique_ptr<Doorbell>> add_doorbell(std::uint64_t address, unsigned width,
                                                   Ring ring) override {
        if (live.contains(address)) return make_error("doorbell {:#x} taken", address);
        live[address] = {width, std::move(ring)};
        return std::unique_ptr<Doorbell>(std::make_unique<Registration>(*this, address));
    }
    bool ring(std::uint64_t address) {
        auto found = live.find(address);
        if (found == live.end()) return false;
        found->second.second();
        return true;
    }
    std::map<std::uint64_t, std::pair<unsigned, Ring>> live;
};

struct VirtioPciTest : ::testing::Test {
    GuestMemory memory = GuestMemory::create(1 << 20).value();
    PciHarness pci;
    RecordingMsiSink msi;
    RecordingDoorbellSink doorbells;
    VirtioRng rng;
    VirtioPciDevice transport{rng, memory, &msi, &doorbells};
    RingDriver driver{memory, 8};
    std::uint64_t bar{0};
    std::uint32_t slot{0};

    void SetUp() override {
        slot = pci.bus.add(transport).value();
        bar = pci.config_read(slot, 0x10) & ~0xfu;
        pci.config_write(slot, 0x04, pci::config::command_memory_space, 2);
    }
    std::uint64_t common(std::uint64_t offset, unsigned size) {
        return pci.mmio_read(bar + offset, size);
    }
    void set_common(std::uint64_t offset, std::uint64_t value, unsigned size) {
        pci.mmio_write(bar + offset, value, size);
    }
    std::uint8_t status() { return static_cast<std::uint8_t>(common(0x14, 1)); }
    /// Feature negotiation as Linux does it; returns whether FEATURES_OK stuck.
    bool negotiate(std::uint64_t features) {
        set_common(0x14, 0, 1);
        set_common(0x14, status::acknowledge | status::driver, 1);
        set_common(0x08, 0, 4);
        set_common(0x0c, features & 0xffff'ffff, 4);
        set_common(0x08, 1, 4);
        set_common(0x0c, features >> 32, 4);
        set_common(0x14, status::acknowledge | status::driver | status::features_ok, 1);
        return (status() & status::features_ok) != 0;
    }
    void set_up_queue(std::uint16_t vector) {
        set_common(0x16, 0, 2);
        set_common(0x18, driver.size, 2);
        set_common(0x1a, vector, 2);
        set_common(0x20, RingDriver::descriptors, 8); // one 64-bit store
        set_common(0x28, RingDriver::avail, 4);       // two 32-bit halves
        set_common(0x2c, 0, 4);
        set_common(0x30, RingDriver::used, 4);
        set_common(0x1c, 1, 2);
    }
    void driver_ok() {
        set_common(0x14,
                   status::acknowledge | status::driver | status::features_ok | status::driver_ok,
                   1);
    }
    void enable_msix() {
        // Find the MSI-X capability and enable it; program vectors 0 (config) and 1 (queue).
        std::uint32_t cap = pci.config_read(slot, 0x34, 1);
        while (cap != 0 && pci.config_read(slot, cap, 1) != pci::msix::capability_id)
            cap = pci.config_read(slot, cap + 1, 1);
        ASSERT_NE(cap, 0u);
        EXPECT_EQ(pci.config_read(slot, cap + 2, 2) & 0x7ff, 1u); // two vectors
        for (std::uint64_t vector = 0; vector < 2; ++vector) {
            pci.mmio_write(bar + pci_layout::msix_table_offset + 16 * vector, 0xfee00000, 4);
            pci.mmio_write(bar + pci_layout::msix_table_offset + 16 * vector + 8, 0x30 + vector, 4);
            pci.mmio_write(bar + pci_layout::msix_table_offset + 16 * vector + 12, 0, 4);
        }
        pci.config_write(slot, cap + 2, pci::msix::control_enable, 2);
    }
    void notify() { pci.mmio_write(bar + pci_layout::notify_offset, 0, 2); }
};

} // namespace

TEST_F(VirtioPciTest, IdentifiesAsAModernVirtioFunction) {
    EXPECT_EQ(pci.config_read(slot, 0), 0x1044'1af4u);
    EXPECT_EQ(pci.config_read(slot, 0x08, 1), 1u); // revision 1
    EXPECT_EQ(pci.config_read(slot, 0x2c), 0x0004'1af4u);
    // Vendor capabilities: common (1), ISR (3), notify (2), PCI_CFG (5) in BAR 0; rng has no
    // device config.
    std::vector<std::uint32_t> types;
    for (std::uint32_t cap = pci.config_read(slot, 0x34, 1); cap != 0;
         cap = pci.config_read(slot, cap + 1, 1))
        if (pci.config_read(slot, cap, 1) == 0x09) {
            types.push_back(pci.config_read(slot, cap + 3, 1));
            EXPECT_EQ(pci.config_read(slot, cap + 4, 1), 0u); // BAR 0
        }
    EXPECT_EQ(types, (std::vector<std::uint32_t>{1, 3, 2, 5})); // 5: PCI_CFG access
    EXPECT_EQ(common(0x12, 2), 1u);                             // one queue
    EXPECT_EQ(common(0x18, 2), VirtioRng::queue_size);
}

TEST_F(VirtioPciTest, FeaturesOkNeedsVersion1AndOfferedBitsOnly) {
    set_common(0x00, 1, 4);
    EXPECT_EQ(common(0x04, 4) & 1, 1u);                      // VIRTIO_F_VERSION_1
    EXPECT_FALSE(negotiate(0));                              // legacy interface: refused
    EXPECT_FALSE(negotiate(feature::version_1 | (1u << 5))); // bit 5 not offered
    EXPECT_TRUE(negotiate(feature::version_1 | feature::ring_indirect_desc));
    // Frozen after FEATURES_OK.
    set_common(0x08, 1, 4);
    set_common(0x0c, 0, 4);
    EXPECT_EQ(common(0x0c, 4), 1u);
}

TEST_F(VirtioPciTest, RngFillsBuffersAndSignalsItsMsixVector) {
    enable_msix();
    ASSERT_TRUE(negotiate(feature::version_1));
    set_up_queue(1);
    EXPECT_EQ(common(0x1a, 2), 1u);
    driver_ok();
    ASSERT_EQ(status() & status::device_needs_reset, 0);
    driver.descriptor(0, 0x8000, 64, ring::descriptor_write);
    driver.publish(0);
    notify();
    EXPECT_EQ(driver.used_index(), 1);
    EXPECT_EQ(driver.used_element(0), std::make_pair(0u, 64u));
    std::array<std::uint8_t, 64> bytes{};
    ASSERT_TRUE(memory.read_bytes(0x8000, bytes));
    EXPECT_NE(std::count(bytes.begin(), bytes.end(), 0), 64);
    ASSERT_EQ(msi.messages.size(), 1u);
    EXPECT_EQ(msi.messages[0], std::make_pair(std::uint64_t{0xfee00000}, std::uint32_t{0x31}));
}

TEST_F(VirtioPciTest, WithoutMsixTheIsrAndIntxSignal) {
    ASSERT_TRUE(negotiate(feature::version_1));
    set_up_queue(VirtioPciDevice::no_vector);
    driver_ok();
    driver.descriptor(0, 0x8000, 8, ring::descriptor_write);
    driver.publish(0);
    notify();
    const std::uint32_t gsi = pci::PciBus::intx_gsi(slot, 0);
    EXPECT_TRUE(pci.irqs.levels[gsi]);
    EXPECT_EQ(pci.mmio_read(bar + pci_layout::isr_offset, 1), 1u);
    EXPECT_FALSE(pci.irqs.levels[gsi]); // reading the ISR acknowledged it
    EXPECT_EQ(pci.mmio_read(bar + pci_layout::isr_offset, 1), 0u);
}

TEST_F(VirtioPciTest, OutOfRangeMsixVectorsReadBackAsNoVector) {
    set_common(0x10, 5, 2);
    EXPECT_EQ(common(0x10, 2), VirtioPciDevice::no_vector);
    set_common(0x16, 0, 2);
    set_common(0x1a, 2, 2);
    EXPECT_EQ(common(0x1a, 2), VirtioPciDevice::no_vector);
    set_common(0x16, 9, 2); // no such queue: size reads 0, writes ignored
    EXPECT_EQ(common(0x18, 2), 0u);
    set_common(0x18, 4, 2);
}

TEST_F(VirtioPciTest, HostileChainSetsNeedsResetAndResetRecovers) {
    enable_msix();
    ASSERT_TRUE(negotiate(feature::version_1));
    set_up_queue(1);
    set_common(0x10, 0, 2); // config vector 0
    driver_ok();
    driver.descriptor(0, 0x8000, 8, ring::descriptor_write | ring::descriptor_next, 0);
    driver.publish(0);
    notify();
    EXPECT_NE(status() & status::device_needs_reset, 0);
    ASSERT_EQ(msi.messages.size(), 1u);
    EXPECT_EQ(msi.messages[0].second, 0x30u); // configuration-change vector
    EXPECT_EQ(driver.used_index(), 0);
    notify(); // a broken queue does nothing more
    EXPECT_EQ(msi.messages.size(), 1u);
    // Reset: status reads 0, then the device works again from scratch.
    set_common(0x14, 0, 1);
    EXPECT_EQ(status(), 0);
    EXPECT_EQ(common(0x1a, 2), VirtioPciDevice::no_vector);
    EXPECT_EQ(common(0x1c, 2), 0u);
    driver.avail_index = 0;
    ASSERT_TRUE(negotiate(feature::version_1));
    set_up_queue(1);
    driver_ok();
    driver.descriptor(0, 0x8000, 8, ring::descriptor_write);
    driver.publish(0);
    notify();
    EXPECT_EQ(driver.used_index(), 1);
    EXPECT_EQ(status() & status::device_needs_reset, 0);
}

TEST_F(VirtioPciTest, RingsOutsideRamAtDriverOkSetNeedsReset) {
    ASSERT_TRUE(negotiate(feature::version_1));
    set_up_queue(VirtioPciDevice::no_vector);
    set_common(0x30, 0xfff00000, 4); // used ring outside RAM
    driver_ok();
    EXPECT_NE(status() & status::device_needs_reset, 0);
    notify();
    EXPECT_EQ(pci.mmio_read(bar + pci_layout::isr_offset, 1), 2u); // config change via ISR
}

TEST_F(VirtioPciTest, NotifyBeforeDriverOkIsIgnored) {
    ASSERT_TRUE(negotiate(feature::version_1));
    set_up_queue(VirtioPciDevice::no_vector);
    driver.descriptor(0, 0x8000, 8, ring::descriptor_write);
    driver.publish(0);
    notify();
    EXPECT_EQ(driver.used_index(), 0);
}

TEST_F(VirtioPciTest, PciCfgCapabilityReachesBarZeroThroughConfigSpace) {
    std::uint32_t cap = pci.config_read(slot, 0x34, 1);
    while (cap != 0 &&
           !(pci.config_read(slot, cap, 1) == 0x09 && pci.config_read(slot, cap + 3, 1) == 5))
        cap = pci.config_read(slot, cap + 1, 1);
    ASSERT_NE(cap, 0u);
    pci.config_write(slot, cap + 4, 0, 1);    // BAR 0
    pci.config_write(slot, cap + 8, 0x12, 4); // num_queues
    pci.config_write(slot, cap + 12, 2, 4);   // 2 bytes
    EXPECT_EQ(pci.config_read(slot, cap + 16, 4), 1u);
    pci.config_write(slot, cap + 8, 0x14, 4); // device_status
    pci.config_write(slot, cap + 12, 1, 4);
    pci.config_write(slot, cap + 16, status::acknowledge, 4);
    EXPECT_EQ(status(), status::acknowledge);
    pci.config_write(slot, cap + 8, 0x13, 4); // misaligned 2-byte access: nothing
    pci.config_write(slot, cap + 12, 2, 4);
    EXPECT_EQ(pci.config_read(slot, cap + 16, 4), 1u); // data unchanged
    pci.config_write(slot, cap + 4, 3, 1);             // another BAR: nothing
    pci.config_write(slot, cap + 8, 0x12, 4);
    pci.config_write(slot, cap + 16, 0, 4);
    EXPECT_EQ(status(), status::acknowledge);
}

TEST_F(VirtioPciTest, QueueNotifyAddressesAreDoorbellsWhereBarZeroDecodes) {
    // SetUp enabled memory decoding: queue 0's notify address is a 2-byte doorbell.
    ASSERT_EQ(doorbells.live.size(), 1u);
    EXPECT_EQ(doorbells.live.begin()->first, bar + pci_layout::notify_offset);
    EXPECT_EQ(doorbells.live.begin()->second.first, 2u);
    // The guest moves BAR 0: the doorbell follows.
    pci.config_write(slot, 0x10, static_cast<std::uint32_t>(bar + 0x10000));
    ASSERT_EQ(doorbells.live.size(), 1u);
    EXPECT_EQ(doorbells.live.begin()->first, bar + 0x10000 + pci_layout::notify_offset);
    // Memory decoding off: no doorbell; on again: back at the BAR's address.
    pci.config_write(slot, 0x04, 0, 2);
    EXPECT_TRUE(doorbells.live.empty());
    pci.config_write(slot, 0x04, pci::config::command_memory_space, 2);
    EXPECT_EQ(doorbells.live.size(), 1u);
}

TEST_F(VirtioPciTest, ADoorbellRingProcessesTheQueueLikeANotifyWrite) {
    enable_msix();
    ASSERT_TRUE(negotiate(feature::version_1));
    set_up_queue(1);
    driver.descriptor(0, 0x8000, 64, ring::descriptor_write);
    driver.publish(0);
    ASSERT_TRUE(doorbells.ring(bar + pci_layout::notify_offset)); // before DRIVER_OK: ignored
    EXPECT_EQ(driver.used_index(), 0);
    driver_ok();
    ASSERT_TRUE(doorbells.ring(bar + pci_layout::notify_offset));
    EXPECT_EQ(driver.used_index(), 1);
    ASSERT_EQ(msi.messages.size(), 1u);
    EXPECT_EQ(msi.messages[0].second, 0x31u);
    // A 4-byte write to the same address is no doorbell write: it still works as a BAR write.
    driver.descriptor(1, 0x8100, 64, ring::descriptor_write);
    driver.publish(1);
    pci.mmio_write(bar + pci_layout::notify_offset, 0, 4);
    EXPECT_EQ(driver.used_index(), 2);
}

TEST(VirtioPciDoorbells, TheTransportUnregistersWhenDestroyed) {
    GuestMemory memory = GuestMemory::create(1 << 20).value();
    RecordingDoorbellSink doorbells;
    VirtioRng rng;
    auto transport = std::make_unique<VirtioPciDevice>(rng, memory, nullptr, &doorbells);
    {
        PciHarness pci; // the bus must not outlive the device it maps
        const std::uint32_t slot = pci.bus.add(*transport).value();
        pci.config_write(slot, 0x04, pci::config::command_memory_space, 2);
        EXPECT_EQ(doorbells.live.size(), 1u);
    }
    transport.reset();
    EXPECT_TRUE(doorbells.live.empty());
}
