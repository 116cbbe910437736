// BootPlacement: first-fit and last-fit searches around used ranges.
#include "arch/x86/boot_placement.hpp"

#include <gtest/gtest.h>

namespace vessel::x86 {
namespace {

std::vector<E820Entry> test_map() {
    return {{0, 0x9fc00, E820Type::ram},
            {0x9fc00, 0x60400, E820Type::reserved},
            {0x100000, 0xf00000, E820Type::ram}};
}

TEST(BootPlacement, UsableRamExcludesReservedEntries) {
    BootPlacement placement(test_map());
    EXPECT_TRUE(placement.is_usable_ram({0x1000, 0x1000}));
    EXPECT_FALSE(placement.is_usable_ram({0x9f000, 0x1000}));
    EXPECT_FALSE(placement.is_usable_ram({0xe0000, 0x10}));
    EXPECT_TRUE(placement.is_usable_ram({0x100000, 0xf00000}));
    EXPECT_FALSE(placement.is_usable_ram({0x100000, 0xf00001}));
    EXPECT_FALSE(placement.is_usable_ram({~std::uint64_t{0} - 4, 8}));
}

TEST(BootPlacement, LowestFitSkipsUsedRangesAndRespectsAlignment) {
    BootPlacement placement(test_map());
    placement.reserve({0x1000, 0x1800});
    EXPECT_EQ(placement.lowest_fit(0x100, 0x1000, 0x1000, 0x9fc00), 0x3000u);
    EXPECT_EQ(placement.lowest_fit(0x100, 0x10, 0x1000, 0x9fc00), 0x2800u);
    // Too big for low memory: the next RAM entry is used.
    EXPECT_EQ(placement.lowest_fit(0xa0000, 0x1000, 0, 1ull << 32), 0x100000u);
    EXPECT_FALSE(placement.lowest_fit(0x1000000, 0x1000, 0, 1ull << 32));
}

TEST(BootPlacement, HighestFitSearchesDownBelowLimit) {
    BootPlacement placement(test_map());
    EXPECT_EQ(placement.highest_fit(0x1800, 0x1000, 0x100000, 0x1000000), 0xffe000u);
    placement.reserve({0xf00000, 0x100000});
    EXPECT_EQ(placement.highest_fit(0x1800, 0x1000, 0x100000, 0x1000000), 0xefe000u);
    EXPECT_EQ(placement.highest_fit(0x1000, 0x1000, 0x100000, 0x800000), 0x7ff000u);
    EXPECT_FALSE(placement.highest_fit(0x1000, 0x1000, 0xf00000, 0x1000000));
}

} // namespace
} // namespace vessel::x86
