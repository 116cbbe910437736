// DirtyBitmap and GuestMemory's marking of device writes.
#include "memory/dirty_bitmap.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "memory/guest_memory.hpp"

using namespace vessel;

TEST(DirtyBitmap, TakeReturnsMarkedPagesAndClears) {
    DirtyBitmap bitmap(130);
    bitmap.mark(0);
    bitmap.mark(64);
    bitmap.mark(129);
    bitmap.mark(130); // past the end: ignored
    EXPECT_TRUE(bitmap.is_dirty(64));
    EXPECT_FALSE(bitmap.is_dirty(1));
    const std::uint64_t epoch = bitmap.epoch();
    auto words = bitmap.take();
    ASSERT_EQ(words.size(), 3u);
    EXPECT_EQ(words[0], 1u);
    EXPECT_EQ(words[1], 1u);
    EXPECT_EQ(words[2], 2u);
    EXPECT_EQ(DirtyBitmap::count(words), 3u);
    EXPECT_NE(bitmap.epoch(), epoch);
    EXPECT_EQ(DirtyBitmap::count(bitmap.take()), 0u);
    bitmap.restore(words);
    EXPECT_EQ(DirtyBitmap::count(bitmap.take()), 3u);
}

TEST(DirtyBitmap, MarkAllStopsAtTheLastPage) {
    DirtyBitmap bitmap(70);
    bitmap.mark_all();
    auto words = bitmap.take();
    EXPECT_EQ(DirtyBitmap::count(words), 70u);
    EXPECT_EQ(words[1], (std::uint64_t{1} << 6) - 1);
}

TEST(DirtyBitmap, RangesMarkEveryTouchedPage) {
    DirtyBitmap bitmap(16);
    bitmap.mark_range(4095, 2); // pages 0 and 1
    bitmap.mark_range(8 * 4096, 4096);
    bitmap.mark_range(15 * 4096, 1u << 20); // runs past the end
    auto words = bitmap.take();
    EXPECT_EQ(words[0], 0b1000'0001'0000'0011u);
}

TEST(DirtyBitmap, ConcurrentMarksAreNotLost) {
    DirtyBitmap bitmap(4096);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&bitmap, t] {
            for (std::uint64_t page = static_cast<std::uint64_t>(t); page < 4096; page += 4)
                bitmap.mark(page);
        });
    for (auto& thread : threads)
        thread.join();
    EXPECT_EQ(DirtyBitmap::count(bitmap.take()), 4096u);
}

TEST(DirtyBitmap, GuestMemoryMarksDeviceWritesAtHostOffsets) {
    // 3 GiB + 8 KiB: two pages above 4 GiB, right after the low region in the host mapping.
    auto memory = GuestMemory::create(GuestMemory::mmio_hole_start + 8192).value();
    EXPECT_EQ(DirtyBitmap::count(memory.dirty_pages().take()), 0u);
    ASSERT_TRUE(memory.write<std::uint32_t>(0x5000, 1));
    ASSERT_TRUE(memory.fill(GuestMemory::high_ram_start + 4096, 0xff, 16));
    // The last low page, then the MMIO hole (not RAM: ignored).
    memory.mark_written(GuestMemory::mmio_hole_start - 4096, 8192);
    auto words = memory.dirty_pages().take();
    EXPECT_EQ(DirtyBitmap::count(words), 3u);
    const std::uint64_t last_low_page = GuestMemory::mmio_hole_start / 4096 - 1;
    EXPECT_TRUE((words[last_low_page / 64] >> (last_low_page % 64)) & 1);
    const std::uint64_t high_page = GuestMemory::mmio_hole_start / 4096 + 1;
    EXPECT_TRUE((words[high_page / 64] >> (high_page % 64)) & 1);
    EXPECT_TRUE(words[0] & (1u << 5));
}
