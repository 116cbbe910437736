// PageAliases: slots map pages of the RAM file a second time, each at its linear page's
// position; remapping a slot moves it.
#include "engine/soft/page_aliases.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include <sys/mman.h>

#include "memory/guest_memory.hpp"

namespace vessel::soft {
namespace {

TEST(PageAliases, ASlotShowsTheRamPageItMapsAtThePagesPosition) {
    auto memory = GuestMemory::create_shared(1 << 20).value();
    auto aliases = PageAliases::create(memory.file()).value();
    ASSERT_TRUE(memory.write<std::uint32_t>(0x3000 + 8, 0x11223344));
    ASSERT_TRUE(memory.write<std::uint32_t>(0x7000 + 8, 0x55667788));
    const std::uint64_t linear = 0x7f12'3456'5000;
    std::uint8_t* const page = aliases.base() + (linear & (PageAliases::window_size - 1));

    ASSERT_FALSE(aliases.maps(1, linear, 0x3000));
    ASSERT_TRUE(aliases.map(1, linear, 0x3000));
    EXPECT_TRUE(aliases.maps(1, linear, 0x3000));
    EXPECT_FALSE(aliases.maps(0, linear, 0x3000)); // the other way's slot is its own
    EXPECT_EQ(aliases.way_at(linear), 1);
    EXPECT_EQ(aliases.way_at(linear + PageAliases::window_size), 1); // the same low 32 bits
    EXPECT_EQ(aliases.way_at(linear + PageAliases::slot_span), -1);  // its slot, elsewhere
    std::uint32_t value = 0;
    std::memcpy(&value, page + 8, 4);
    EXPECT_EQ(value, 0x11223344u);
    value = 0xcafe;
    std::memcpy(page + 12, &value, 4); // a write through the alias is a write to RAM
    EXPECT_EQ(memory.read<std::uint32_t>(0x3000 + 12).value(), 0xcafeu);

    // The slot moves to another page of its index: that page's position shows it, and the
    // old position is given up.
    const std::uint64_t other = linear + PageAliases::slot_span;
    ASSERT_TRUE(aliases.map(1, other, 0x7000));
    EXPECT_FALSE(aliases.maps(1, linear, 0x3000));
    EXPECT_EQ(aliases.way_at(linear), -1);
    EXPECT_EQ(aliases.way_at(other), 1);
    std::memcpy(&value, aliases.base() + (other & (PageAliases::window_size - 1)) + 8, 4);
    EXPECT_EQ(value, 0x55667788u);
    unsigned char resident = 0;
    EXPECT_EQ(::mincore(page, 4096, &resident), 0);
    EXPECT_EQ(resident & 1, 0) << "the old position still maps a RAM page";
    EXPECT_EQ(aliases.remaps(), 2u);
}

TEST(PageAliases, ASlotThatJustMovedWaitsBeforeMovingAgain) {
    auto memory = GuestMemory::create_shared(1 << 20).value();
    auto aliases = PageAliases::create(memory.file()).value();
    const std::uint64_t linear = 0x3000; // slot 3
    EXPECT_TRUE(aliases.may_move(0, 3)); // maps nothing yet
    aliases.count_fill();
    ASSERT_TRUE(aliases.map(0, linear, 0x1000));
    for (std::uint64_t fill = 1; fill < PageAliases::settle_fills; ++fill) {
        aliases.count_fill();
        EXPECT_FALSE(aliases.may_move(0, 3)) << "fill " << fill;
        EXPECT_TRUE(aliases.may_move(1, 3)); // the other way still maps nothing
        EXPECT_TRUE(aliases.may_move(0, 4)); // another slot is free to take its first page
    }
    aliases.count_fill();
    EXPECT_TRUE(aliases.may_move(0, 3));
}

TEST(PageAliases, PrivateRamHasNoFileToAlias) {
    auto memory = GuestMemory::create(1 << 20).value();
    EXPECT_EQ(memory.file(), -1);
    auto aliases = PageAliases::create(memory.file());
    ASSERT_FALSE(aliases);
    EXPECT_NE(aliases.error().message.find("RAM in a file"), std::string::npos);
}

TEST(PageAliases, ARefusedMappingLeavesTheSlotEmpty) {
    auto memory = GuestMemory::create_shared(1 << 20).value();
    auto aliases = PageAliases::create(memory.file()).value();
    ASSERT_TRUE(aliases.map(0, 0x1000, 0x2000));
    EXPECT_FALSE(aliases.map(0, 0x1000, 0x3001)); // not page-aligned: mmap refuses
    EXPECT_FALSE(aliases.maps(0, 0x1000, 0x2000));
    EXPECT_FALSE(aliases.maps(0, 0x1000, 0x3001));
    EXPECT_EQ(aliases.way_at(0x1000), -1);
}

} // namespace
} // namespace vessel::soft
