// GuestMemory: layout and bounds checks.
#include "memory/guest_memory.hpp"

#include <sys/mman.h>

#include <algorithm>

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "base/huge_page_test_support.hpp"

using vessel::GuestMemory;

TEST(GuestMemory, RejectsBadSizes) {
    EXPECT_FALSE(GuestMemory::create(0));
    EXPECT_FALSE(GuestMemory::create(4096));
    EXPECT_FALSE(GuestMemory::create((1 << 20) + 1));
    auto error = GuestMemory::create(12345).error().message;
    EXPECT_NE(error.find("12345"), std::string::npos);
}

TEST(GuestMemory, SmallMemoryIsOneRegionFromZero) {
    auto memory = GuestMemory::create(16 << 20).value();
    ASSERT_EQ(memory.regions().size(), 1u);
    EXPECT_EQ(memory.regions()[0].guest_address, 0u);
    EXPECT_EQ(memory.regions()[0].size, 16u << 20);
}

TEST(GuestMemory, LargeMemorySkipsTheMmioHole) {
    auto memory = GuestMemory::create(std::uint64_t{4} << 30).value();
    ASSERT_EQ(memory.regions().size(), 2u);
    EXPECT_EQ(memory.regions()[0].size, GuestMemory::mmio_hole_start);
    EXPECT_EQ(memory.regions()[1].guest_address, GuestMemory::high_ram_start);
    EXPECT_EQ(memory.regions()[1].size, (std::uint64_t{4} << 30) - GuestMemory::mmio_hole_start);
    EXPECT_FALSE(memory.contains(0xfee00000, 4));
    EXPECT_TRUE(memory.contains(GuestMemory::high_ram_start, 4));
    EXPECT_TRUE(memory.write<std::uint32_t>(GuestMemory::high_ram_start + 8, 0xabcd));
    EXPECT_EQ(memory.host_base()[GuestMemory::mmio_hole_start + 8], 0xcd);
}

TEST(GuestMemory, TypedAccessRoundTrips) {
    auto memory = GuestMemory::create(1 << 20).value();
    ASSERT_TRUE(memory.write<std::uint64_t>(0x1000, 0x1122334455667788));
    EXPECT_EQ(memory.read<std::uint64_t>(0x1000).value(), 0x1122334455667788u);
    EXPECT_EQ(memory.read<std::uint8_t>(0x1000).value(), 0x88);
}

TEST(GuestMemory, AccessesOutsideRamFail) {
    auto memory = GuestMemory::create(1 << 20).value();
    EXPECT_TRUE(memory.read<std::uint32_t>((1 << 20) - 4));
    EXPECT_FALSE(memory.read<std::uint32_t>((1 << 20) - 3));
    EXPECT_FALSE(memory.read<std::uint8_t>(1 << 20));
    EXPECT_FALSE(memory.read<std::uint64_t>(~std::uint64_t{0} - 2)); // wraps around
    EXPECT_FALSE(memory.slice(0x10, ~std::uint64_t{0}));
    EXPECT_FALSE(memory.fill(0x100, 0, 1 << 20));
    EXPECT_EQ(memory.host_pointer(0xfffff, 2), nullptr);
    std::uint8_t buffer[16];
    EXPECT_FALSE(memory.read_bytes(0xffff8, buffer));
}

namespace {
struct RecordingObserver final : vessel::RamWriteObserver {
    void ram_written(std::uint64_t host_offset, std::uint64_t length) override {
        ranges.push_back({host_offset, length});
    }
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
};
} // namespace

TEST(GuestMemory, DeviceWritesReachTheWriteObserverAsHostOffsets) {
    auto memory = GuestMemory::create(std::uint64_t{4} << 30).value();
    RecordingObserver observer;
    memory.set_write_observer(&observer);
    const std::uint8_t bytes[3] = {1, 2, 3};
    ASSERT_TRUE(memory.write_bytes(0x2000, bytes));
    ASSERT_TRUE(memory.fill(GuestMemory::high_ram_start + 0x10, 0xaa, 8));
    EXPECT_FALSE(memory.write_bytes(GuestMemory::mmio_hole_start, bytes)); // not RAM: no report
    // A DMA range crossing the hole is reported per RAM region, the hole itself not at all.
    memory.mark_written(GuestMemory::mmio_hole_start - 0x10,
                        GuestMemory::high_ram_start - GuestMemory::mmio_hole_start + 0x20);
    ASSERT_EQ(observer.ranges.size(), 4u);
    EXPECT_EQ(observer.ranges[0], std::make_pair(std::uint64_t{0x2000}, std::uint64_t{3}));
    EXPECT_EQ(observer.ranges[1],
              std::make_pair(GuestMemory::mmio_hole_start + 0x10, std::uint64_t{8}));
    EXPECT_EQ(observer.ranges[2],
              std::make_pair(GuestMemory::mmio_hole_start - 0x10, std::uint64_t{0x10}));
    EXPECT_EQ(observer.ranges[3],
              std::make_pair(GuestMemory::mmio_hole_start, std::uint64_t{0x10}));
    memory.set_write_observer(nullptr);
    ASSERT_TRUE(memory.write_bytes(0x2000, bytes));
    EXPECT_EQ(observer.ranges.size(), 4u);
}

TEST(GuestMemory, DiscardedPagesReadAsZeroAndAreReported) {
    auto memory = GuestMemory::create(1 << 20).value();
    RecordingObserver observer;
    ASSERT_TRUE(memory.fill(0x2000, 0xaa, 0x3000));
    memory.set_write_observer(&observer);
    ASSERT_TRUE(memory.discard(0x3000, 0x1000));
    EXPECT_EQ(memory.read<std::uint8_t>(0x2fff).value(), 0xaa);
    EXPECT_EQ(memory.read<std::uint64_t>(0x3000).value(), 0u);
    EXPECT_EQ(memory.read<std::uint8_t>(0x3fff).value(), 0);
    EXPECT_EQ(memory.read<std::uint8_t>(0x4000).value(), 0xaa);
    ASSERT_EQ(observer.ranges.size(), 1u);
    EXPECT_EQ(observer.ranges[0], std::make_pair(std::uint64_t{0x3000}, std::uint64_t{0x1000}));
    memory.set_write_observer(nullptr);
}

TEST(GuestMemory, DiscardRefusesUnalignedRangesAndRangesOutsideRam) {
    auto memory = GuestMemory::create(1 << 20).value();
    ASSERT_TRUE(memory.fill(0x1000, 0x55, 0x1000));
    auto unaligned = memory.discard(0x1800, 0x1000);
    ASSERT_FALSE(unaligned);
    EXPECT_NE(unaligned.error().message.find("0x1800"), std::string::npos);
    EXPECT_FALSE(memory.discard(0x1000, 0x800));
    EXPECT_FALSE(memory.discard(1 << 20, 0x1000));
    EXPECT_FALSE(memory.discard((1 << 20) - 0x1000, 0x2000));
    EXPECT_EQ(memory.read<std::uint8_t>(0x1000).value(), 0x55);
}

TEST(GuestMemory, DiscardLowersResidentMemory) {
    constexpr std::uint64_t size = 64 << 20;
    auto memory = GuestMemory::create(size).value();
    ASSERT_TRUE(memory.fill(0, 0x11, size));
    auto resident = [&] {
        std::vector<unsigned char> pages(size / GuestMemory::page_size);
        EXPECT_EQ(::mincore(memory.host_base(), size, pages.data()), 0);
        return std::count_if(pages.begin(), pages.end(), [](unsigned char p) { return p & 1; });
    };
    EXPECT_EQ(resident(), static_cast<long>(size / GuestMemory::page_size));
    ASSERT_TRUE(memory.discard(0, size / 2));
    EXPECT_EQ(resident(), static_cast<long>(size / GuestMemory::page_size / 2));
}

TEST(GuestMemory, RamMayUseHugePagesUntilABalloonDiscardsOrPagesAreShared) {
    if (!vessel::test::host_offers_huge_pages()) GTEST_SKIP() << "the host's THP mode is never";
    auto memory = GuestMemory::create(64 << 20);
    ASSERT_TRUE(memory.has_value());
    EXPECT_EQ(vessel::test::huge_page_eligible(memory->host_base()), true);
    ASSERT_TRUE(memory->discard(0x200000, 0x1000).has_value());
    EXPECT_EQ(vessel::test::huge_page_eligible(memory->host_base()), false);

    auto shared = GuestMemory::create(64 << 20);
    ASSERT_TRUE(shared.has_value());
    if (shared->enable_page_sharing().has_value()) { // hosts without KSM refuse it
        EXPECT_EQ(vessel::test::huge_page_eligible(shared->host_base()), false);
    }
}

namespace vessel {
namespace {

TEST(GuestMemoryShared, RamBeyondTheFileSizeLimitIsRefusedWithoutASignal) {
    // A jailer's fsize limit below guest RAM: ftruncate would raise SIGXFSZ, which ends the
    // process; create_shared refuses first, naming the limit (Machine then uses private RAM).
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
    rlimit low = saved;
    low.rlim_cur = 2 << 20;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &low), 0);
    auto refused = GuestMemory::create_shared(4 << 20);
    auto fits = GuestMemory::create_shared(1 << 20);
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("RLIMIT_FSIZE"), std::string::npos);
    ASSERT_TRUE(fits) << fits.error().message;
    EXPECT_GE(fits->file(), 0);
}

TEST(GuestMemoryShared, DiscardedPagesReadAsZeroThroughEveryMapping) {
    auto memory = GuestMemory::create_shared(1 << 20).value();
    ASSERT_TRUE(memory.write<std::uint64_t>(0x5000, 0x1122334455667788));
    ASSERT_TRUE(memory.discard(0x5000, 0x1000));
    EXPECT_EQ(memory.read<std::uint64_t>(0x5000).value(), 0u);
}

} // namespace
} // namespace vessel
