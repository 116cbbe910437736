// Pit8254: counting against an injected clock, latches, read-back, IRQ 0 pacing, port 0x61.
#include "platform/pc/pit_8254.hpp"

#include <gtest/gtest.h>

#include "devices/legacy/test_support.hpp"

using namespace vessel;
using namespace vessel::testing;

namespace {

constexpr std::uint64_t tick_ns = 838; // 1 / 1.193182 MHz, rounded down

struct PitTest : ::testing::Test {
    RecordingInterruptSink sink;
    std::uint64_t now{1'000'000};
    Pit8254 pit{IrqLine(&sink, 0), [this] { return now; }};
    BusDevice& ports = pit.counter_window();
    BusDevice& port_b = pit.port_b_window();

    void program(unsigned channel, std::uint8_t mode, std::uint16_t count) {
        write8(ports, 3, static_cast<std::uint8_t>((channel << 6) | 0x30 | (mode << 1)));
        write8(ports, channel, static_cast<std::uint8_t>(count));
        write8(ports, channel, static_cast<std::uint8_t>(count >> 8));
    }
    std::uint16_t read_live(unsigned channel) {
        std::uint16_t low = read8(ports, channel);
        return static_cast<std::uint16_t>(low | (read8(ports, channel) << 8));
    }
    std::uint16_t read_latched(unsigned channel) {
        write8(ports, 3, static_cast<std::uint8_t>(channel << 6)); // counter latch command
        return read_live(channel);
    }
    int irq_count() { return sink.raised[0]; }
};

} // namespace

TEST_F(PitTest, CounterDecreasesWithTime) {
    program(0, 2, 1000);
    EXPECT_EQ(read_latched(0), 1000);
    now += 100 * tick_ns + 10;
    EXPECT_EQ(read_latched(0), 900);
    now += 950 * tick_ns;                      // wraps around the 1000-tick period
    EXPECT_EQ(read_latched(0), 1000 - 50 + 1); // 1050 ticks elapsed, rounding leaves one
}

TEST_F(PitTest, LatchHoldsValueUntilRead) {
    program(0, 2, 0); // 65536
    now += 1000 * tick_ns + 100;
    write8(ports, 3, 0x00);
    now += 5000 * tick_ns;
    const std::uint16_t latched = read_live(0);
    EXPECT_EQ(latched, 65536 - 1000);
    EXPECT_LT(read_live(0), latched); // unlatched reads are live again
}

TEST_F(PitTest, Mode2RaisesIrq0EachPeriodAndCoalesces) {
    program(0, 2, 11932); // 10 ms
    ASSERT_TRUE(pit.next_deadline().has_value());
    const std::uint64_t first = *pit.next_deadline();
    EXPECT_NEAR(static_cast<double>(first - now), 10'000'000.0, 1000.0);
    pit.update(first - 1);
    EXPECT_EQ(irq_count(), 0);
    pit.update(first);
    EXPECT_EQ(irq_count(), 1);
    EXPECT_FALSE(sink.levels[0]); // a pulse: edge for PIC and IOAPIC
    pit.update(first + 1);
    EXPECT_EQ(irq_count(), 1);
    // Missing five periods gives one interrupt, and the next deadline is in the future.
    const std::uint64_t late = first + 55'000'000;
    pit.update(late);
    EXPECT_EQ(irq_count(), 2);
    ASSERT_TRUE(pit.next_deadline().has_value());
    EXPECT_GT(*pit.next_deadline(), late);
    EXPECT_LE(*pit.next_deadline(), late + 10'000'000);
}

TEST_F(PitTest, Mode0FiresOnceAtTerminalCount) {
    program(0, 0, 1193); // ~1 ms one-shot
    now += 500'000;
    pit.update(now);
    EXPECT_EQ(irq_count(), 0);
    now += 600'000;
    pit.update(now);
    EXPECT_EQ(irq_count(), 1);
    EXPECT_FALSE(pit.next_deadline().has_value());
    now += 100'000'000;
    pit.update(now);
    EXPECT_EQ(irq_count(), 1);
}

TEST_F(PitTest, ControlWordStopsChannel0) {
    program(0, 2, 1000);
    write8(ports, 3, 0x34); // mode 2 again, count not yet written
    EXPECT_FALSE(pit.next_deadline().has_value());
}

TEST_F(PitTest, ReadBackStatusAndCount) {
    program(2, 0, 0x1234);
    // Status: output low (gate is off so nothing counts), RW=3, mode 0, count loaded.
    write8(ports, 3, 0xc0 | 0x20 | 0x08); // read-back status only, channel 2
    EXPECT_EQ(read8(ports, 2), 0x30);
    write8(ports, 3, 0xd8); // read-back count only, channel 2
    EXPECT_EQ(read_live(2), 0x1234);
    // Before the count is written after a control word, null count is set.
    write8(ports, 3, 0xb6);
    write8(ports, 3, 0xe8);
    EXPECT_EQ(read8(ports, 2), 0x40 | 0x80 | 0x30 | 0x06);
}

TEST_F(PitTest, LowAndHighByteAccessModes) {
    write8(ports, 3, 0x14); // channel 0, LSB only, mode 2
    write8(ports, 0, 200);
    EXPECT_EQ(read8(ports, 0), 200);
    EXPECT_EQ(read8(ports, 0), 200); // LSB mode: every read is the low byte
    write8(ports, 3, 0x24);          // MSB only
    write8(ports, 0, 0x02);          // count 0x200
    now += 0x100 * tick_ns + 100;
    EXPECT_EQ(read8(ports, 0), 0x01);
}

TEST_F(PitTest, BcdCounting) {
    write8(ports, 3, 0x31); // channel 0, word, mode 0, BCD
    write8(ports, 0, 0x00);
    write8(ports, 0, 0x10); // 1000 decimal
    now += 1 * tick_ns + 100;
    EXPECT_EQ(read_latched(0), 0x0999);
}

TEST_F(PitTest, Channel2GatedByPortBLikeLinuxTscCalibration) {
    // arch/x86/kernel/tsc.c pit_calibrate_tsc(): gate high, speaker off, mode 0, 50 ms latch.
    write8(port_b, 0, static_cast<std::uint8_t>((read8(port_b, 0) & ~0x02) | 0x01));
    write8(ports, 3, 0xb0);
    const std::uint16_t latch = 59659; // 50 ms
    write8(ports, 2, latch & 0xff);
    write8(ports, 2, latch >> 8);
    EXPECT_EQ(read8(port_b, 0) & 0x20, 0); // OUT2 low while counting
    now += 49'999'000;
    EXPECT_EQ(read8(port_b, 0) & 0x20, 0);
    now += 2'000;
    EXPECT_NE(read8(port_b, 0) & 0x20, 0);         // terminal count reached exactly at 50 ms
    EXPECT_FALSE(pit.next_deadline().has_value()); // channel 2 never raises IRQ 0
}

TEST_F(PitTest, GateLowSuspendsMode0Counting) {
    write8(port_b, 0, 0x01);
    program(2, 0, 1000);
    now += 400 * tick_ns + 100;
    write8(port_b, 0, 0x00); // gate off
    const std::uint16_t frozen = read_latched(2);
    EXPECT_EQ(frozen, 600);
    now += 10'000'000;
    EXPECT_EQ(read_latched(2), frozen);
    EXPECT_EQ(read8(port_b, 0) & 0x20, 0);
    write8(port_b, 0, 0x01);
    now += 600 * tick_ns + 600;
    EXPECT_NE(read8(port_b, 0) & 0x20, 0);
}

TEST_F(PitTest, PortBKeepsWritableBitsAndTogglesRefresh) {
    write8(port_b, 0, 0xff);
    EXPECT_EQ(read8(port_b, 0) & 0xcf, 0x0f);
    const std::uint8_t before = read8(port_b, 0) & 0x10;
    now += 15'085;
    EXPECT_NE(read8(port_b, 0) & 0x10, before);
}

TEST_F(PitTest, Mode3SquareWaveOnChannel2) {
    write8(port_b, 0, 0x01);
    program(2, 3, 100);
    EXPECT_NE(read8(port_b, 0) & 0x20, 0); // first half high
    now += 60 * tick_ns;
    EXPECT_EQ(read8(port_b, 0) & 0x20, 0); // second half low
    now += 50 * tick_ns;
    EXPECT_NE(read8(port_b, 0) & 0x20, 0);
}

TEST_F(PitTest, TinyPeriodIsRateLimited) {
    program(0, 2, 2);
    const std::uint64_t start = now;
    pit.update(start + 200'000);
    ASSERT_TRUE(pit.next_deadline().has_value());
    EXPECT_GE(*pit.next_deadline() - start, 200'000u);
}

TEST_F(PitTest, OutOfRangePortsAreHarmless) {
    std::uint8_t bytes[4] = {1, 2, 3, 4};
    ports.write(2, bytes); // ports 2, 3 and two beyond the window
    port_b.write(1, bytes);
    EXPECT_EQ(read8(port_b, 1), 0xff);
}

TEST(Pit8254, ReprogrammingNotifiesTheOwner) {
    int notified = 0;
    Pit8254 pit(
        IrqLine(), [] { return std::uint64_t{0}; }, [&] { ++notified; });
    write8(pit.counter_window(), 3, 0x34);
    EXPECT_EQ(notified, 1);
}
