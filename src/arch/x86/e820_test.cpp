// e820 memory map: RAM regions minus the reserved low area.
#include "arch/x86/e820.hpp"

#include <gtest/gtest.h>

namespace vessel::x86 {
namespace {

TEST(E820, SmallGuestHasLowRamReservedAreaAndHighRam) {
    auto memory = GuestMemory::create(16 << 20).value();
    auto map = build_e820_map(memory);
    ASSERT_EQ(map.size(), 3u);
    EXPECT_EQ(map[0].address, 0u);
    EXPECT_EQ(map[0].end(), 0x9fc00u);
    EXPECT_EQ(map[0].type, E820Type::ram);
    EXPECT_EQ(map[1].address, 0x9fc00u);
    EXPECT_EQ(map[1].end(), 0x100000u);
    EXPECT_EQ(map[1].type, E820Type::reserved);
    EXPECT_EQ(map[2].address, 0x100000u);
    EXPECT_EQ(map[2].end(), 16u << 20);
    EXPECT_EQ(map[2].type, E820Type::ram);
    EXPECT_EQ(low_ram_end(memory), 16u << 20);
}

TEST(E820, OneMebibyteGuestHasNoHighRam) {
    auto memory = GuestMemory::create(1 << 20).value();
    auto map = build_e820_map(memory);
    ASSERT_EQ(map.size(), 2u);
    EXPECT_EQ(map[1].type, E820Type::reserved);
    EXPECT_EQ(map[1].end(), 0x100000u);
}

TEST(E820, LargeGuestSkipsTheMmioHole) {
    auto memory = GuestMemory::create(std::uint64_t{5} << 30).value();
    auto map = build_e820_map(memory);
    ASSERT_EQ(map.size(), 4u);
    EXPECT_EQ(map[2].address, 0x100000u);
    EXPECT_EQ(map[2].end(), GuestMemory::mmio_hole_start);
    EXPECT_EQ(map[3].address, GuestMemory::high_ram_start);
    EXPECT_EQ(map[3].size, std::uint64_t{2} << 30);
    EXPECT_EQ(map[3].type, E820Type::ram);
    EXPECT_EQ(low_ram_end(memory), GuestMemory::mmio_hole_start);
}

} // namespace
} // namespace vessel::x86
