// PcSoftPlatform: IRQ routing PIT->PIC/IOAPIC->LAPIC, APIC timers, IPIs, idle waits and wakeups.
#include "platform/pc/pc_soft_platform.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace vessel;
using namespace vessel::pc;
using vessel::soft::StartupRequest;

namespace {

struct PlatformTest : ::testing::Test {
    Bus io{"io"};
    Bus mmio{"mmio"};
    std::atomic<std::uint64_t> clock{5'000'000'000};
    std::unique_ptr<PcSoftPlatform> platform;

    void make(std::uint32_t cpus, bool real_clock = false) {
        MonotonicClock source = real_clock ? MonotonicClock(steady_clock_ns)
                                           : MonotonicClock([this] { return clock.load(); });
        auto created = PcSoftPlatform::create(io, mmio, cpus, std::move(source));
        ASSERT_TRUE(created) << created.error().message;
        platform = std::move(*created);
    }
    void out8(std::uint16_t port, std::uint8_t value) { io.write(port, {&value, 1}); }
    std::uint8_t in8(std::uint16_t port) {
        std::uint8_t value = 0;
        io.read(port, {&value, 1});
        return value;
    }
    void mmio32(std::uint64_t address, std::uint32_t value) {
        std::uint8_t bytes[4];
        value_to_bytes(value, bytes);
        mmio.write(address, bytes);
    }
    void init_pic() {
        for (auto [port, base, cascade] :
             {std::tuple{0x20, 0x20, 0x04}, std::tuple{0xa0, 0x28, 0x02}}) {
            out8(static_cast<std::uint16_t>(port), 0x11);
            out8(static_cast<std::uint16_t>(port + 1), static_cast<std::uint8_t>(base));
            out8(static_cast<std::uint16_t>(port + 1), static_cast<std::uint8_t>(cascade));
            out8(static_cast<std::uint16_t>(port + 1), 0x01);
        }
    }
    void ioapic_route(std::uint32_t pin, std::uint32_t low, std::uint8_t destination) {
        mmio32(0xfec00000, 0x11 + 2 * pin);
        mmio32(0xfec00010, std::uint32_t{destination} << 24);
        mmio32(0xfec00000, 0x10 + 2 * pin);
        mmio32(0xfec00010, low);
    }
    void enable_apic(std::uint32_t cpu) { platform->apic_mmio_write(cpu, 0xf0, 0x1ff); }
};

} // namespace

TEST_F(PlatformTest, RejectsBadCpuCountsAndRegistersPorts) {
    EXPECT_FALSE(PcSoftPlatform::create(io, mmio, 0, steady_clock_ns));
    EXPECT_FALSE(PcSoftPlatform::create(io, mmio, 256, steady_clock_ns));
    make(1);
    for (std::uint64_t port : {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x43, 0x61})
        EXPECT_NE(io.find(port), nullptr) << port;
    EXPECT_NE(mmio.find(0xfec00000), nullptr);
    // A second platform on the same buses must fail cleanly.
    EXPECT_FALSE(PcSoftPlatform::create(io, mmio, 1, steady_clock_ns));
}

TEST_F(PlatformTest, PitChannel0ThroughPicReachesBsp) {
    make(1);
    init_pic();
    out8(0x43, 0x34); // channel 0, lobyte/hibyte, mode 2
    out8(0x40, 0x9c);
    out8(0x40, 0x2e); // 11932: 10 ms
    platform->poll(0);
    EXPECT_FALSE(platform->has_interrupt(0));
    clock += 10'000'200;
    platform->poll(0);
    ASSERT_TRUE(platform->has_interrupt(0));
    EXPECT_EQ(platform->acknowledge_interrupt(0), 0x20);
    EXPECT_FALSE(platform->has_interrupt(0));
    out8(0x20, 0x20);    // EOI
    clock += 10'000'200; // period: 11932 ticks = 10.00015 ms
    platform->poll(0);
    EXPECT_TRUE(platform->has_interrupt(0));
}

TEST_F(PlatformTest, PicDoesNotReachCpuWhenLint0Masked) {
    make(1);
    init_pic();
    enable_apic(0);
    platform->apic_mmio_write(0, 0x350, 0x10700); // LINT0 masked
    platform->set_irq_level(4, true);
    EXPECT_FALSE(platform->has_interrupt(0));
    platform->apic_mmio_write(0, 0x350, 0x700);
    EXPECT_TRUE(platform->has_interrupt(0));
    EXPECT_EQ(platform->acknowledge_interrupt(0), 0x24);
}

TEST_F(PlatformTest, IsaIrqRoutedThroughIoapicToSecondCpu) {
    make(2);
    enable_apic(1);
    platform->apic_mmio_write(0, 0x350, 0x10700); // keep the PIC away from CPU 0
    ioapic_route(4, 0x41, 1);                     // IRQ4 -> vector 0x41 on APIC 1
    platform->set_irq_level(4, true);
    platform->set_irq_level(4, false);
    EXPECT_FALSE(platform->has_interrupt(0));
    ASSERT_TRUE(platform->has_interrupt(1));
    EXPECT_EQ(platform->acknowledge_interrupt(1), 0x41);
}

TEST_F(PlatformTest, PitIrq0ArrivesOnIoapicPin2) {
    make(1);
    enable_apic(0);
    platform->apic_mmio_write(0, 0x350, 0x10700);
    ioapic_route(2, 0x30, 0);
    out8(0x43, 0x30); // channel 0 mode 0
    out8(0x40, 0x10);
    out8(0x40, 0x00);
    clock += 1'000'000;
    platform->poll(0);
    ASSERT_TRUE(platform->has_interrupt(0));
    EXPECT_EQ(platform->acknowledge_interrupt(0), 0x30);
}

TEST_F(PlatformTest, LevelPciIrqRedeliveredAfterEoiWhileAsserted) {
    make(1);
    enable_apic(0);
    ioapic_route(19, 0xa050, 0); // level, active low, vector 0x50
    platform->set_irq_level(19, true);
    EXPECT_EQ(platform->acknowledge_interrupt(0), 0x50);
    platform->apic_mmio_write(0, 0xb0, 0); // EOI broadcast reaches the IOAPIC
    ASSERT_TRUE(platform->has_interrupt(0));
    EXPECT_EQ(platform->acknowledge_interrupt(0), 0x50);
    platform->set_irq_level(19, false);
    platform->apic_mmio_write(0, 0xb0, 0);
    EXPECT_FALSE(platform->has_interrupt(0));
}

TEST_F(PlatformTest, ApicOneShotTimerWithInjectedTime) {
    make(1);
    enable_apic(0);
    platform->apic_mmio_write(0, 0x3e0, 0xb);     // divide by 1
    platform->apic_mmio_write(0, 0x320, 0xec);    // one-shot
    platform->apic_mmio_write(0, 0x380, 500'000); // 0.5 ms
    clock += 499'999;
    platform->poll(0);
    EXPECT_FALSE(platform->has_interrupt(0));
    clock += 1;
    platform->poll(0);
    ASSERT_TRUE(platform->has_interrupt(0));
    EXPECT_EQ(platform->acknowledge_interrupt(0), 0xec);
}

TEST_F(PlatformTest, TscRunsAtTwoGigahertzFromZero) {
    make(1);
    EXPECT_EQ(platform->tsc(), 0u);
    clock += 1'500;
    EXPECT_EQ(platform->tsc(), 3'000u);
    EXPECT_EQ(platform->tsc_frequency_hz(), 2'000'000'000u);
}

TEST_F(PlatformTest, IpisAndStartupRequests) {
    make(3);
    for (std::uint32_t cpu = 0; cpu < 3; ++cpu)
        enable_apic(cpu);
    platform->apic_mmio_write(0, 0x310, 0x02000000);
    platform->apic_mmio_write(0, 0x300, 0x40fd); // fixed 0xfd to APIC 2
    EXPECT_FALSE(platform->has_interrupt(1));
    ASSERT_TRUE(platform->has_interrupt(2));
    EXPECT_EQ(platform->acknowledge_interrupt(2), 0xfd);
    platform->apic_mmio_write(0, 0x300, 0x000c4500); // INIT all excluding self
    platform->apic_mmio_write(0, 0x300, 0x000c4610); // SIPI vector 0x10
    for (std::uint32_t cpu : {1u, 2u}) {
        auto init = platform->take_startup_request(cpu);
        ASSERT_TRUE(init.has_value());
        EXPECT_EQ(init->kind, StartupRequest::Kind::Init);
        auto sipi = platform->take_startup_request(cpu);
        ASSERT_TRUE(sipi.has_value());
        EXPECT_EQ(sipi->vector, 0x10);
    }
    EXPECT_FALSE(platform->take_startup_request(0).has_value());
    platform->apic_mmio_write(0, 0x300, 0x00084400); // NMI to all including self
    EXPECT_TRUE(platform->take_nmi(0));
    EXPECT_TRUE(platform->take_nmi(2));
    EXPECT_FALSE(platform->take_nmi(2));
}

TEST_F(PlatformTest, LowestPriorityPicksLowestPpr) {
    make(2);
    enable_apic(0);
    enable_apic(1);
    platform->apic_mmio_write(0, 0x350, 0x10700); // keep the PIC away from CPU 0
    platform->apic_mmio_write(0, 0x80, 0x40);     // CPU 0 busier
    platform->apic_mmio_write(0, 0xd0, 0x01000000);
    platform->apic_mmio_write(1, 0xd0, 0x02000000);
    ioapic_route(5, 0x0960, 0x03); // lowest priority, logical, to both
    platform->set_irq_level(5, true);
    EXPECT_FALSE(platform->has_interrupt(0));
    EXPECT_TRUE(platform->has_interrupt(1));
}

TEST_F(PlatformTest, OutOfRangeCpusAreHarmless) {
    make(1);
    platform->poll(7);
    EXPECT_FALSE(platform->has_interrupt(7));
    platform->wait_for_interrupt(7);
    platform->wake(7);
    std::uint64_t value = 1;
    EXPECT_FALSE(platform->x2apic_msr_read(7, 0x802, value));
    EXPECT_FALSE(platform->set_apic_base(7, 0));
    platform->set_irq_level(99, true);
}

TEST_F(PlatformTest, WaitReturnsWhenAnotherThreadRaisesIrq) {
    make(2, true);
    enable_apic(1);
    ioapic_route(16, 0xa044, 1);
    std::thread device([this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        platform->set_irq_level(16, true);
    });
    const auto start = std::chrono::steady_clock::now();
    platform->wait_for_interrupt(1);
    const auto waited = std::chrono::steady_clock::now() - start;
    device.join();
    EXPECT_TRUE(platform->has_interrupt(1));
    EXPECT_GE(waited, std::chrono::milliseconds(15));
    EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST_F(PlatformTest, WaitReturnsAtApicTimerDeadline) {
    make(1, true);
    enable_apic(0);
    platform->apic_mmio_write(0, 0x3e0, 0xb);
    platform->apic_mmio_write(0, 0x320, 0xec);
    platform->apic_mmio_write(0, 0x380, 30'000'000); // 30 ms
    const auto start = std::chrono::steady_clock::now();
    platform->wait_for_interrupt(0);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(platform->has_interrupt(0));
    EXPECT_GE(waited, std::chrono::milliseconds(29));
    EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST_F(PlatformTest, WakeEndsWaitAndIsNotLostWhenEarly) {
    make(1, true);
    platform->wake(0); // before the wait: the next wait returns at once
    platform->wait_for_interrupt(0);
    std::thread kicker([this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        platform->wake(0);
    });
    const auto start = std::chrono::steady_clock::now();
    platform->wait_for_interrupt(0);
    const auto waited = std::chrono::steady_clock::now() - start;
    kicker.join();
    EXPECT_FALSE(platform->has_interrupt(0));
    EXPECT_GE(waited, std::chrono::milliseconds(15));
}

TEST_F(PlatformTest, MsiReachesTheApicItsAddressNames) {
    make(2);
    enable_apic(0);
    enable_apic(1);
    platform->apic_mmio_write(0, 0x350, 0x10700);
    platform->signal_msi(0xfee01000, 0x0045); // physical destination APIC 1, fixed, vector 0x45
    EXPECT_FALSE(platform->has_interrupt(0));
    ASSERT_TRUE(platform->has_interrupt(1));
    EXPECT_EQ(platform->acknowledge_interrupt(1), 0x45);
    platform->signal_msi(0xfed00000, 0x0046);  // outside the interrupt window: dropped
    platform->signal_msi(0x1fee00000, 0x0046); // above 4 GiB: dropped
    EXPECT_FALSE(platform->has_interrupt(0));
    EXPECT_FALSE(platform->has_interrupt(1));
    platform->signal_msi(0xfee00000, 0x0047);
    ASSERT_TRUE(platform->has_interrupt(0));
    EXPECT_EQ(platform->acknowledge_interrupt(0), 0x47);
}
