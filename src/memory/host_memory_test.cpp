// HostMemory: meminfo parsing and the refuse/warn rules for guest RAM, on made-up hosts.
#include "memory/host_memory.hpp"

#include <gtest/gtest.h>

using namespace vessel;

namespace {
constexpr std::uint64_t gib = std::uint64_t{1} << 30;
constexpr const char* meminfo = "MemTotal:       24576000 kB\n"
                                "MemFree:         1000000 kB\n"
                                "MemAvailable:   20480000 kB\n"
                                "Buffers:           12345 kB\n";
} // namespace

TEST(HostMemory, ParsesTotalAndAvailable) {
    auto host = HostMemory::parse(meminfo);
    ASSERT_TRUE(host.has_value()) << host.error().message;
    EXPECT_EQ(host->total_bytes, 24576000ull << 10);
    EXPECT_EQ(host->available_bytes, 20480000ull << 10);
    auto old_kernel = HostMemory::parse("MemTotal: 2048 kB\nMemFree: 1024 kB\n");
    ASSERT_TRUE(old_kernel.has_value());
    EXPECT_EQ(old_kernel->available_bytes, 1024ull << 10);
    EXPECT_FALSE(HostMemory::parse("MemFree: 1 kB\n").has_value());
    EXPECT_FALSE(HostMemory::parse("MemTotal: lots\n").has_value());
}

TEST(HostMemory, ThisHostHasSomeMemory) {
    auto host = HostMemory::read();
    ASSERT_TRUE(host.has_value()) << host.error().message;
    EXPECT_GT(host->total_bytes, 0u);
    EXPECT_LE(host->available_bytes, host->total_bytes);
}

TEST(HostMemory, RefusesGuestsLargerThanPhysicalMemoryNamingBothSizes) {
    const HostMemory host{24 * gib, 20 * gib};
    EXPECT_TRUE(check_guest_memory_fits(24 * gib, host).has_value());
    auto refused = check_guest_memory_fits(1024 * gib, host);
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().message.find("1024 GiB"), std::string::npos)
        << refused.error().message;
    EXPECT_NE(refused.error().message.find("24 GiB"), std::string::npos) << refused.error().message;
}

TEST(HostMemory, WarnsAboveAvailableMemoryOnly) {
    const HostMemory host{24 * gib, 20 * gib};
    EXPECT_FALSE(guest_memory_warning(20 * gib, host).has_value());
    auto warning = guest_memory_warning(22 * gib, host);
    ASSERT_TRUE(warning.has_value());
    EXPECT_NE(warning->find("22 GiB"), std::string::npos) << *warning;
    EXPECT_NE(warning->find("20 GiB"), std::string::npos) << *warning;
}

TEST(HostMemory, DescribesSizes) {
    EXPECT_EQ(describe_memory_size(512ull << 20), "512 MiB");
    EXPECT_EQ(describe_memory_size(2 * gib), "2 GiB");
    EXPECT_EQ(describe_memory_size(gib + gib / 2), "1.5 GiB");
}
