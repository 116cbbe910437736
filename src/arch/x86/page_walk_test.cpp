// Tests of the debugger's side-effect-free page walk.
#include "arch/x86/page_walk.hpp"

#include <gtest/gtest.h>

namespace vessel::x86 {
namespace {

constexpr std::uint64_t present_writable = 3, large = 0x80, accessed = 0x20;

TEST(PageWalk, IdentityWithoutPaging) {
    auto memory = *GuestMemory::create(1 << 20);
    EXPECT_EQ(*translate_linear(memory, PagingMode{}, 0x1234), 0x1234u);
}

TEST(PageWalk, ThirtyTwoBitPagingWith4KAnd4MPages) {
    auto memory = *GuestMemory::create(1 << 20);
    const std::uint64_t directory = 0x10000, table = 0x11000;
    ASSERT_TRUE(
        memory.write<std::uint32_t>(directory + (0xc0000000 >> 22) * 4, table | present_writable));
    ASSERT_TRUE(memory.write<std::uint32_t>(table + 5 * 4, 0x42000 | present_writable));
    ASSERT_TRUE(memory.write<std::uint32_t>(directory + 1 * 4, 0x00c00000 | large | 1));
    PagingMode paging{cr0::pe | cr0::pg, directory, cr4::pse, 0};
    EXPECT_EQ(*translate_linear(memory, paging, 0xc0005123), 0x42123u);
    EXPECT_EQ(*translate_linear(memory, paging, 0x00412345), 0x00c12345u);
    auto missing = translate_linear(memory, paging, 0x80000000);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("0x80000000"), std::string::npos);
    // The walk sets no accessed bit.
    EXPECT_EQ(*memory.read<std::uint32_t>(table + 5 * 4) & accessed, 0u);
}

TEST(PageWalk, FourLevelPagingWith2MAnd1GPages) {
    auto memory = *GuestMemory::create(1 << 20);
    const std::uint64_t pml4 = 0x10000, pdpt = 0x11000, directory = 0x12000, table = 0x13000;
    ASSERT_TRUE(memory.write<std::uint64_t>(pml4 + 511 * 8, pdpt | present_writable));
    ASSERT_TRUE(memory.write<std::uint64_t>(pdpt + 510 * 8, directory | present_writable));
    ASSERT_TRUE(memory.write<std::uint64_t>(directory + 8, 0x200000 | large | 1)); // 2 MiB
    ASSERT_TRUE(memory.write<std::uint64_t>(directory, table | present_writable));
    ASSERT_TRUE(memory.write<std::uint64_t>(table + 3 * 8, 0x77000 | 1));
    ASSERT_TRUE(memory.write<std::uint64_t>(pdpt + 0, 0x40000000 | large | 1)); // 1 GiB
    PagingMode paging{cr0::pe | cr0::pg, pml4, cr4::pae, efer::lme | efer::lma};
    EXPECT_EQ(*translate_linear(memory, paging, 0xffffffff80203456), 0x203456u);
    EXPECT_EQ(*translate_linear(memory, paging, 0xffffffff80003456), 0x77456u);
    EXPECT_EQ(*translate_linear(memory, paging, 0xffffff8000012345), 0x40012345u);
    EXPECT_FALSE(translate_linear(memory, paging, 0x1000));
}

TEST(PageWalk, TablesOutsideRamFail) {
    auto memory = *GuestMemory::create(1 << 20);
    PagingMode paging{cr0::pe | cr0::pg, 0x7000'0000, cr4::pae, efer::lme | efer::lma};
    EXPECT_FALSE(translate_linear(memory, paging, 0x1000));
}

} // namespace
} // namespace vessel::x86
