// Bus: insertion rules and dispatch.
#include "devices/bus.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace vessel;

namespace {

struct RecordingDevice final : BusDevice {
    std::string_view name() const override { return "recorder"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
        reads.push_back(offset);
        std::fill(data.begin(), data.end(), static_cast<std::uint8_t>(offset));
    }
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
        writes.push_back({offset, bytes_to_value(data)});
    }
    std::vector<std::uint64_t> reads;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> writes;
};

} // namespace

TEST(Bus, DispatchesWithOffsets) {
    Bus bus("io");
    RecordingDevice first, second;
    ASSERT_TRUE(bus.insert(first, 0x3f8, 8));
    ASSERT_TRUE(bus.insert(second, 0x20, 2));
    std::uint8_t value = 0;
    EXPECT_TRUE(bus.read(0x3fd, {&value, 1}));
    EXPECT_EQ(value, 5);
    std::uint8_t out[2] = {0x34, 0x12};
    EXPECT_TRUE(bus.write(0x21, out));
    ASSERT_EQ(second.writes.size(), 1u);
    EXPECT_EQ(second.writes[0].first, 1u);
    EXPECT_EQ(second.writes[0].second, 0x1234u);
    EXPECT_TRUE(first.writes.empty());
}

TEST(Bus, UnbackedReadsGiveAllOnes) {
    Bus bus("mmio");
    RecordingDevice device;
    ASSERT_TRUE(bus.insert(device, 0x1000, 0x100));
    std::uint8_t data[4] = {};
    EXPECT_FALSE(bus.read(0x1100, data));
    EXPECT_EQ(data[0], 0xff);
    EXPECT_EQ(data[3], 0xff);
    EXPECT_FALSE(bus.read(0xfff, data));
    EXPECT_FALSE(bus.write(0x0, data));
    EXPECT_TRUE(device.reads.empty());
}

TEST(Bus, CountsEveryAccessMappedOrNot) {
    Bus bus("io");
    RecordingDevice device;
    ASSERT_TRUE(bus.insert(device, 0x10, 4));
    std::uint8_t data[1] = {};
    bus.read(0x10, data);
    bus.read(0x99, data);
    bus.write(0x11, data);
    EXPECT_EQ(bus.read_count(), 2u);
    EXPECT_EQ(bus.write_count(), 1u);
}

TEST(Bus, RejectsOverlapsAndEmptyWindows) {
    Bus bus("io");
    RecordingDevice a, b;
    ASSERT_TRUE(bus.insert(a, 0x100, 0x10));
    EXPECT_FALSE(bus.insert(b, 0x10f, 1));
    EXPECT_FALSE(bus.insert(b, 0xf8, 0x9));
    EXPECT_FALSE(bus.insert(b, 0x100, 0x10));
    EXPECT_FALSE(bus.insert(b, 0x200, 0));
    EXPECT_FALSE(bus.insert(b, ~std::uint64_t{0}, 2));
    EXPECT_TRUE(bus.insert(b, 0x110, 1));
    EXPECT_TRUE(bus.insert(b, 0xf8, 8));
}

TEST(Bus, RemovedWindowsStopDispatchingAndFreeTheirRange) {
    Bus bus("mmio");
    RecordingDevice device, other;
    ASSERT_TRUE(bus.insert(device, 0x1000, 0x100));
    EXPECT_FALSE(bus.remove(other, 0x1000));  // not that device's window
    EXPECT_FALSE(bus.remove(device, 0x1010)); // not the window's base
    EXPECT_TRUE(bus.remove(device, 0x1000));
    std::uint8_t data[1] = {};
    EXPECT_FALSE(bus.read(0x1000, data));
    // The range is free again: a moved window can take it.
    ASSERT_TRUE(bus.insert(other, 0x1000, 0x100));
    EXPECT_TRUE(bus.read(0x1004, data));
    EXPECT_EQ(data[0], 4);
    EXPECT_TRUE(device.reads.empty());
}
