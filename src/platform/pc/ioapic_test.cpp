// IoApic: register access the way a guest does it, edge/level delivery, masking, EOI.
#include "platform/pc/ioapic.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace vessel;

namespace {

struct IoApicTest : ::testing::Test {
    std::vector<ApicMessage> sent;
    bool accept{true};
    IoApic ioapic{[this](const ApicMessage& message) {
        sent.push_back(message);
        return accept;
    }};

    void write32(std::uint64_t offset, std::uint32_t value) {
        std::uint8_t bytes[4];
        value_to_bytes(value, bytes);
        ioapic.write(offset, bytes);
    }
    std::uint32_t read32(std::uint64_t offset) {
        std::uint8_t bytes[4];
        ioapic.read(offset, bytes);
        return static_cast<std::uint32_t>(bytes_to_value(bytes));
    }
    void set_register(std::uint32_t index, std::uint32_t value) {
        write32(0x00, index);
        write32(0x10, value);
    }
    std::uint32_t get_register(std::uint32_t index) {
        write32(0x00, index);
        return read32(0x10);
    }
    void route(std::uint32_t pin, std::uint32_t low, std::uint8_t destination) {
        set_register(0x11 + 2 * pin, std::uint32_t{destination} << 24);
        set_register(0x10 + 2 * pin, low);
    }
};

} // namespace

TEST_F(IoApicTest, IdVersionArbitration) {
    EXPECT_EQ(get_register(0x01), 0x00170020u);
    set_register(0x00, 0xff000000);
    EXPECT_EQ(get_register(0x00), 0x0f000000u);
    EXPECT_EQ(get_register(0x02), 0x0f000000u);
    EXPECT_EQ(read32(0x00), 0x02u); // IOREGSEL reads back
}

TEST_F(IoApicTest, EntriesResetMaskedAndReadBack) {
    EXPECT_EQ(get_register(0x10), 0x00010000u);
    route(5, 0x0000a931, 3); // vector 0x31, lowest priority, logical, level
    EXPECT_EQ(get_register(0x10 + 10), 0x0000a931u & ~0x1000u);
    EXPECT_EQ(get_register(0x11 + 10), 0x03000000u);
    EXPECT_EQ(get_register(0x10 + 2 * 24), 0u); // beyond the last entry
    set_register(0x10 + 2 * 24, 0x31);          // ignored, must not crash
}

TEST_F(IoApicTest, MaskedPinDeliversNothing) {
    ioapic.set_pin_level(4, true);
    ioapic.set_pin_level(4, false);
    EXPECT_TRUE(sent.empty());
}

TEST_F(IoApicTest, EdgePinDeliversOnRisingEdge) {
    route(2, 0x30, 0); // vector 0x30, fixed, physical, edge, unmasked
    ioapic.set_pin_level(2, true);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].vector, 0x30);
    EXPECT_EQ(sent[0].destination, 0u);
    EXPECT_FALSE(sent[0].level_triggered);
    EXPECT_EQ(sent[0].delivery_mode, ApicMessage::DeliveryMode::Fixed);
    ioapic.set_pin_level(2, true); // still high: no new edge
    EXPECT_EQ(sent.size(), 1u);
    ioapic.set_pin_level(2, false);
    ioapic.set_pin_level(2, true);
    EXPECT_EQ(sent.size(), 2u);
}

TEST_F(IoApicTest, LevelPinWaitsForEoiThenRedelivers) {
    route(16, 0x0000a841, 1); // vector 0x41, fixed, logical, level, active low
    ioapic.set_pin_level(16, true);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_TRUE(sent[0].level_triggered);
    EXPECT_TRUE(sent[0].logical_destination);
    EXPECT_EQ(get_register(0x10 + 32) & 0x4000, 0x4000u); // remote IRR
    ioapic.set_pin_level(16, true);
    EXPECT_EQ(sent.size(), 1u);
    ioapic.end_of_interrupt(0x42); // another vector: no effect
    EXPECT_EQ(sent.size(), 1u);
    ioapic.end_of_interrupt(0x41); // still asserted: delivered again
    EXPECT_EQ(sent.size(), 2u);
    ioapic.set_pin_level(16, false);
    ioapic.end_of_interrupt(0x41);
    EXPECT_EQ(get_register(0x10 + 32) & 0x4000, 0u);
    EXPECT_EQ(sent.size(), 2u);
}

TEST_F(IoApicTest, EoiRegisterClearsRemoteIrr) {
    route(10, 0x0000a050, 0);
    ioapic.set_pin_level(10, true);
    ioapic.set_pin_level(10, false);
    write32(0x40, 0x50);
    EXPECT_EQ(get_register(0x10 + 20) & 0x4000, 0u);
}

TEST_F(IoApicTest, UnmaskingAssertedLevelPinDelivers) {
    route(11, 0x0001a060, 0); // masked, level
    ioapic.set_pin_level(11, true);
    EXPECT_TRUE(sent.empty());
    set_register(0x10 + 22, 0x0000a060);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].vector, 0x60);
}

TEST_F(IoApicTest, UnacceptedLevelMessageLeavesRemoteIrrClear) {
    accept = false;
    route(9, 0x0000a070, 7);
    ioapic.set_pin_level(9, true);
    EXPECT_EQ(get_register(0x10 + 18) & 0x4000, 0u);
}

TEST_F(IoApicTest, OutOfRangePinsAndOffsetsAreIgnored) {
    ioapic.set_pin_level(24, true);
    ioapic.set_pin_level(0xffffffff, true);
    EXPECT_EQ(read32(0x20), 0u);
    write32(0xffc, 0x1234);
    EXPECT_TRUE(sent.empty());
}
