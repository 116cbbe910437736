// AcpiPmTimer: the counter follows the injected clock at 3.579545 MHz, 32 bits wide, and a read
// is one clock call and nothing else (no lock, no exit, no other device) behind the I/O bus.
#include "devices/legacy/acpi_pm_timer.hpp"

#include <gtest/gtest.h>

#include "arch/x86/acpi_tables.hpp"
#include "devices/bus.hpp"

using namespace vessel;

namespace {

struct CountingClock {
    std::uint64_t now = 0;
    int calls = 0;
    MonotonicClock clock() {
        return [this] {
            ++calls;
            return now;
        };
    }
};

std::uint32_t inl(const Bus& bus, std::uint16_t port) {
    std::uint8_t bytes[4] = {};
    EXPECT_TRUE(bus.read(port, bytes));
    return static_cast<std::uint32_t>(bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) |
                                      (std::uint32_t{bytes[3]} << 24));
}

} // namespace

TEST(AcpiPmTimer, CountsAt3579545HzAndWrapsAt32Bits) {
    CountingClock time;
    AcpiPmTimer timer(time.clock());
    EXPECT_EQ(timer.count(), 0u);
    time.now = 1'000'000'000;
    EXPECT_EQ(timer.count(), 3'579'545u);
    time.now = 279; // a tick is 279.365 ns
    EXPECT_EQ(timer.count(), 0u);
    time.now = 280;
    EXPECT_EQ(timer.count(), 1u);
    // 2^32 ticks take 1199.86 s; the counter wraps to 0 there (no overflow in the arithmetic
    // for a host that has been up for years).
    time.now = 1'199'864'031'000ull;
    const std::uint32_t before_wrap = timer.count();
    time.now = 1'199'864'032'000ull;
    EXPECT_GT(before_wrap, 0xffff'fff0u);
    EXPECT_LT(timer.count(), 16u);
    time.now = 10ull * 365 * 24 * 3600 * 1'000'000'000; // ten years
    const auto expected = static_cast<std::uint32_t>(static_cast<unsigned __int128>(time.now) *
                                                     3'579'545 / 1'000'000'000);
    EXPECT_EQ(timer.count(), expected);
}

TEST(AcpiPmTimer, OneInlOnTheBusIsOneClockReadAndWritesAreIgnored) {
    CountingClock time;
    AcpiPmTimer timer(time.clock());
    Bus io("io");
    ASSERT_TRUE(io.insert(timer, x86::acpi_hardware::pm_timer_port, AcpiPmTimer::window_size));
    time.now = 2'000'000'000;
    time.calls = 0;
    EXPECT_EQ(inl(io, 0x608), 7'159'090u);
    EXPECT_EQ(time.calls, 1); // the whole read path: one clock call
    std::uint8_t junk[4] = {1, 2, 3, 4};
    EXPECT_TRUE(io.write(0x608, junk));
    EXPECT_EQ(time.calls, 1); // writes do not even look at the clock
    EXPECT_EQ(inl(io, 0x608), 7'159'090u);
    // Byte and word reads see the same register.
    std::uint8_t high = 0;
    EXPECT_TRUE(io.read(0x60a, {&high, 1}));
    EXPECT_EQ(high, (7'159'090u >> 16) & 0xff);
}
