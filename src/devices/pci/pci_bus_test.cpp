// PciBus: configuration mechanism #1, absent functions, BAR sizing, mapping and moves, INTx.
#include "devices/pci/pci_bus.hpp"

#include <gtest/gtest.h>

#include "devices/pci/pci_host_bridge.hpp"
#include "devices/pci/pci_test_support.hpp"

using namespace vessel;
using namespace vessel::testing;

namespace {

/// A device with one 4 KiB BAR whose registers echo the last write.
struct EchoDevice final : pci::PciDevice {
    EchoDevice() : PciDevice(pci::PciIdentity{0x1234, 0x5678, 0x01'80'00, 3, 0x1234, 9}) {
        add_memory_bar(1, 0x1000);
        use_interrupt_pin_a();
        const std::uint8_t body[2] = {0xaa, 0xbb};
        const std::uint8_t writable[2] = {0x0f, 0};
        add_capability(0x09, body, writable);
        add_capability(0x05, body);
    }
    std::string_view name() const override { return "echo"; }
    void bar_read(std::uint32_t, std::uint64_t offset, std::span<std::uint8_t> data) override {
        value_to_bytes(last + offset, data);
    }
    void bar_write(std::uint32_t, std::uint64_t, std::span<const std::uint8_t> data) override {
        last = bytes_to_value(data);
    }
    void raise(bool level) { set_intx_level(level); }
    std::uint64_t last{0};
};

struct PciBusTest : ::testing::Test {
    PciHarness pci;
    pci::PciHostBridge bridge;
    EchoDevice echo;
    void SetUp() override {
        ASSERT_EQ(pci.bus.add(bridge).value(), 0u);
        ASSERT_EQ(pci.bus.add(echo).value(), 1u);
    }
};

} // namespace

TEST_F(PciBusTest, ConfigurationMechanismOneReachesTheHeader) {
    EXPECT_EQ(pci.config_read(0, 0), 0x0d57'8086u);
    EXPECT_EQ(pci.config_read(0, 0x08) >> 8, 0x06'00'00u); // host bridge class
    EXPECT_EQ(pci.config_read(1, 0), 0x5678'1234u);
    EXPECT_EQ(pci.config_read(1, 0x02, 2), 0x5678u); // 16-bit read at 0xcfe
    EXPECT_EQ(pci.config_read(1, 0x08, 1), 3u);
    EXPECT_EQ(pci.config_read(1, 0x2e, 2), 9u);
    // The address register reads back; Linux's type 1 probe depends on it.
    std::uint8_t bytes[4];
    value_to_bytes(0x8000'0000u, bytes);
    pci.io.write(0xcf8, bytes);
    std::uint8_t back[4] = {};
    pci.io.read(0xcf8, back);
    EXPECT_EQ(bytes_to_value(back), 0x8000'0000u);
}

TEST_F(PciBusTest, AbsentFunctionsAndBusesReadAllOnes) {
    EXPECT_EQ(pci.config_read(2, 0), 0xffff'ffffu);
    EXPECT_EQ(pci.config_read(31, 0, 2), 0xffffu);
    pci.select(1, 0, 1); // bus 1
    std::uint8_t bytes[4] = {};
    pci.io.read(0xcfc, bytes);
    EXPECT_EQ(bytes_to_value(bytes), 0xffff'ffffu);
    // Function 1 of slot 1.
    value_to_bytes(0x8000'0000u | (1u << 11) | (1u << 8), bytes);
    pci.io.write(0xcf8, bytes);
    pci.io.read(0xcfc, bytes);
    EXPECT_EQ(bytes_to_value(bytes), 0xffff'ffffu);
    // Enable bit clear: no configuration cycle.
    value_to_bytes(1u << 11, bytes);
    pci.io.write(0xcf8, bytes);
    pci.io.read(0xcfc, bytes);
    EXPECT_EQ(bytes_to_value(bytes), 0xffff'ffffu);
}

TEST_F(PciBusTest, ReadOnlyFieldsIgnoreWrites) {
    pci.config_write(1, 0, 0xffff'ffff);
    EXPECT_EQ(pci.config_read(1, 0), 0x5678'1234u);
    pci.config_write(1, 0x3c, 0xffff'ffff);
    EXPECT_EQ(pci.config_read(1, 0x3c) & 0xffff, 0x01ffu); // line writable, pin A fixed
}

TEST_F(PciBusTest, BarSizingReturnsTheSizeMaskAndUnusedBarsStayZero) {
    const std::uint32_t placed = pci.config_read(1, 0x14);
    EXPECT_GE(placed, pci::PciBus::mmio_window_start);
    EXPECT_EQ(placed % 0x1000, 0u);
    pci.config_write(1, 0x14, 0xffff'ffff);
    EXPECT_EQ(pci.config_read(1, 0x14), 0xffff'f000u);
    pci.config_write(1, 0x10, 0xffff'ffff);
    EXPECT_EQ(pci.config_read(1, 0x10), 0u);
    pci.config_write(1, 0x14, placed);
    EXPECT_EQ(pci.config_read(1, 0x14), placed);
}

TEST_F(PciBusTest, BarsDecodeOnlyWithMemorySpaceEnabledAndFollowMoves) {
    const std::uint32_t placed = pci.config_read(1, 0x14);
    pci.mmio_write(placed, 0x42, 4);
    EXPECT_EQ(echo.last, 0u); // decoding off
    pci.config_write(1, 0x04, pci::config::command_memory_space, 2);
    pci.mmio_write(placed, 0x42, 4);
    EXPECT_EQ(echo.last, 0x42u);
    EXPECT_EQ(pci.mmio_read(placed + 8, 4), 0x4au);
    // Sizing while decoding: the window leaves the bus until a real address comes back.
    pci.config_write(1, 0x14, 0xffff'ffff);
    EXPECT_EQ(pci.mmio_read(placed, 4), 0xffff'ffffu);
    const std::uint32_t moved = 0xd000'0000;
    pci.config_write(1, 0x14, moved);
    pci.mmio_write(moved + 4, 0x7, 4);
    EXPECT_EQ(echo.last, 0x7u);
    EXPECT_EQ(pci.mmio_read(placed, 4), 0xffff'ffffu); // old place is empty
    pci.config_write(1, 0x04, 0, 2);
    EXPECT_EQ(pci.mmio_read(moved, 4), 0xffff'ffffu);
}

TEST_F(PciBusTest, CapabilityListIsLinkedAndHonoursWriteMasks) {
    EXPECT_NE(pci.config_read(1, 0x06, 2) & pci::config::status_capabilities_list, 0u);
    const std::uint32_t first = pci.config_read(1, 0x34, 1);
    ASSERT_EQ(first, 0x40u);
    EXPECT_EQ(pci.config_read(1, first, 1), 0x09u);
    const std::uint32_t second = pci.config_read(1, first + 1, 1);
    ASSERT_NE(second, 0u);
    EXPECT_EQ(pci.config_read(1, second, 1), 0x05u);
    EXPECT_EQ(pci.config_read(1, second + 1, 1), 0u); // end of list
    pci.config_write(1, first + 2, 0xffff, 2);
    EXPECT_EQ(pci.config_read(1, first + 2, 2), 0xbbafu);
}

TEST_F(PciBusTest, IntxReachesItsGsiUnlessDisabled) {
    const std::uint32_t gsi = pci::PciBus::intx_gsi(1, 0);
    EXPECT_EQ(gsi, 17u);
    EXPECT_EQ(pci.config_read(1, 0x3c, 1), gsi);
    echo.raise(true);
    EXPECT_TRUE(pci.irqs.levels[gsi]);
    EXPECT_NE(pci.config_read(1, 0x06, 2) & pci::config::status_interrupt, 0u);
    pci.config_write(1, 0x04, pci::config::command_interrupt_disable, 2);
    EXPECT_FALSE(pci.irqs.levels[gsi]);
    pci.config_write(1, 0x04, 0, 2);
    EXPECT_TRUE(pci.irqs.levels[gsi]);
    echo.raise(false);
    EXPECT_FALSE(pci.irqs.levels[gsi]);
}

TEST(PciBus, RefusesMoreThan32Devices) {
    PciHarness pci;
    std::vector<std::unique_ptr<pci::PciHostBridge>> devices;
    for (int i = 0; i < 32; ++i) {
        devices.push_back(std::make_unique<pci::PciHostBridge>());
        ASSERT_TRUE(pci.bus.add(*devices.back()));
    }
    pci::PciHostBridge extra;
    auto added = pci.bus.add(extra);
    ASSERT_FALSE(added);
    EXPECT_NE(added.error().message.find("full"), std::string::npos);
}
