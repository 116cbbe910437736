// CodePages: device writes (RamWriteObserver) stale decoded code like vCPU stores do.
#include "engine/soft/code_pages.hpp"

#include <gtest/gtest.h>

#include "memory/guest_memory.hpp"

using namespace vessel;
using namespace vessel::soft;

TEST(CodePages, DeviceWritesBumpOnlyCodePagesTheyTouch) {
    CodePages pages(1 << 20);
    pages.mark_code(2);
    pages.mark_code(5);
    const auto before2 = pages.generation(2);
    const auto before5 = pages.generation(5);
    pages.ram_written(0x2ff0, 0x20); // pages 2 and 3; 3 holds no code
    EXPECT_NE(pages.generation(2), before2);
    EXPECT_EQ(pages.generation(3), 0u);
    EXPECT_EQ(pages.generation(5), before5);
    pages.ram_written(0xfffff, 0x10000); // past the end: clamped, no crash
    pages.ram_written(0x5000, 0);        // empty: nothing
    EXPECT_EQ(pages.generation(5), before5);
}

TEST(CodePages, GuestMemoryDmaReachesThemThroughTheObserver) {
    auto memory = GuestMemory::create(1 << 20).value();
    CodePages pages(memory.size());
    memory.set_write_observer(&pages);
    pages.mark_code(8);
    const auto before = pages.generation(8);
    const std::uint8_t program[4] = {0x90, 0x90, 0xc3, 0};
    ASSERT_TRUE(memory.write_bytes(0x8100, program)); // e.g. a disk read into a code page
    EXPECT_NE(pages.generation(8), before);
    memory.set_write_observer(nullptr);
}
