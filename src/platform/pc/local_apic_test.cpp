// LocalApic: registers as a guest programs them, priorities, EOI, timer modes, IPIs, x2APIC.
#include "platform/pc/local_apic.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace vessel;
using namespace vessel::pc;
using vessel::soft::StartupRequest;

namespace {

constexpr std::uint32_t svr = 0xf0, eoi = 0xb0, tpr = 0x80, ppr = 0xa0, icr_low = 0x300,
                        icr_high = 0x310, lvt_timer = 0x320, lvt_lint0 = 0x350, lvt_error = 0x370,
                        initial_count = 0x380, current_count = 0x390, divide = 0x3e0, esr = 0x280;

struct LocalApicTest : ::testing::Test {
    std::uint64_t now{1000};
    std::vector<ApicMessage> ipis;
    std::vector<std::uint8_t> eois;
    LocalApic apic{0, true, 2'000'000'000, [this] { return now; },
                   LocalApic::Hooks{[this](const ApicMessage& m) { ipis.push_back(m); },
                                    [this](std::uint8_t v) { eois.push_back(v); }}};

    void enable() { apic.mmio_write(svr, 0x1ff); }
    void fixed(std::uint8_t vector, bool level = false) {
        ApicMessage message;
        message.vector = vector;
        message.level_triggered = level;
        ASSERT_TRUE(apic.accept(message));
    }
    bool irr_bit(std::uint8_t vector) {
        return apic.mmio_read(0x200 + (vector / 32) * 16) & (1u << (vector % 32));
    }
};

} // namespace

TEST_F(LocalApicTest, ResetState) {
    EXPECT_EQ(apic.apic_base(), 0xfee00900u); // enabled, BSP
    EXPECT_EQ(apic.mmio_read(0x20), 0u);
    EXPECT_EQ(apic.mmio_read(0x30), 0x00050014u);
    EXPECT_EQ(apic.mmio_read(svr), 0xffu);
    EXPECT_EQ(apic.mmio_read(0xe0), 0xffffffffu);
    EXPECT_EQ(apic.mmio_read(lvt_timer), 0x10000u);
    EXPECT_EQ(apic.mmio_read(lvt_lint0), 0x700u); // BSP virtual wire
    EXPECT_TRUE(apic.accepts_pic_interrupts());
}

TEST_F(LocalApicTest, SoftwareDisabledApicRefusesFixedAndMasksLvt) {
    ApicMessage message;
    message.vector = 0x40;
    EXPECT_FALSE(apic.accept(message));
    apic.mmio_write(lvt_timer, 0x30); // unmasking is ignored while disabled
    EXPECT_EQ(apic.mmio_read(lvt_timer), 0x10030u);
    enable();
    apic.mmio_write(lvt_timer, 0x30);
    EXPECT_EQ(apic.mmio_read(lvt_timer), 0x30u);
    apic.mmio_write(svr, 0xff); // disabling sets every mask
    EXPECT_EQ(apic.mmio_read(lvt_timer), 0x10030u);
    EXPECT_FALSE(apic.accepts_pic_interrupts());
}

TEST_F(LocalApicTest, AcceptAcknowledgeEoiWithPriorities) {
    enable();
    fixed(0x41);
    fixed(0x61);
    EXPECT_TRUE(irr_bit(0x41));
    ASSERT_TRUE(apic.has_interrupt());
    EXPECT_EQ(apic.acknowledge(), 0x61);
    EXPECT_EQ(apic.mmio_read(ppr), 0x60u);
    EXPECT_EQ(apic.mmio_read(0x100 + 3 * 16), 1u << 1); // ISR bit 0x61
    EXPECT_FALSE(apic.has_interrupt());                 // 0x41 is a lower class than in service
    fixed(0x65);
    EXPECT_FALSE(apic.has_interrupt()); // same class as in service: no nesting
    fixed(0x71);
    EXPECT_EQ(apic.acknowledge(), 0x71);
    apic.mmio_write(eoi, 0);
    apic.mmio_write(eoi, 0);
    EXPECT_EQ(apic.acknowledge(), 0x65);
    apic.mmio_write(eoi, 0);
    EXPECT_EQ(apic.acknowledge(), 0x41);
    apic.mmio_write(eoi, 0);
    EXPECT_FALSE(apic.has_interrupt());
    EXPECT_TRUE(eois.empty()); // edge vectors are not broadcast
}

TEST_F(LocalApicTest, TaskPriorityBlocksLowerClasses) {
    enable();
    apic.mmio_write(tpr, 0x50);
    fixed(0x52);
    EXPECT_FALSE(apic.has_interrupt());
    EXPECT_EQ(apic.acknowledge(), 0xff); // spurious vector from SVR
    fixed(0x60);
    EXPECT_TRUE(apic.has_interrupt());
    apic.mmio_write(tpr, 0);
    EXPECT_EQ(apic.acknowledge(), 0x60);
}

TEST_F(LocalApicTest, LevelTriggeredEoiIsBroadcast) {
    enable();
    fixed(0x33, true);
    EXPECT_EQ(apic.mmio_read(0x180 + 16), 1u << 19); // TMR bit 0x33
    EXPECT_EQ(apic.acknowledge(), 0x33);
    apic.mmio_write(eoi, 0);
    ASSERT_EQ(eois.size(), 1u);
    EXPECT_EQ(eois[0], 0x33);
}

TEST_F(LocalApicTest, IllegalVectorSetsEsrAndErrorInterrupt) {
    enable();
    apic.mmio_write(lvt_error, 0xfe);
    ApicMessage message;
    message.vector = 3;
    apic.accept(message);
    EXPECT_EQ(apic.mmio_read(esr), 0u); // latched only by a write
    apic.mmio_write(esr, 0);
    EXPECT_EQ(apic.mmio_read(esr), 0x40u);
    EXPECT_EQ(apic.acknowledge(), 0xfe);
}

TEST_F(LocalApicTest, OneShotTimerCountsDownAndFiresOnce) {
    enable();
    apic.mmio_write(divide, 0x3);         // divide by 16
    apic.mmio_write(lvt_timer, 0xec);     // one-shot, vector 0xec
    apic.mmio_write(initial_count, 1000); // 16 us at 1 GHz / 16
    EXPECT_EQ(apic.mmio_read(current_count), 1000u);
    now += 1600;
    EXPECT_EQ(apic.mmio_read(current_count), 900u);
    ASSERT_TRUE(apic.next_deadline().has_value());
    EXPECT_EQ(*apic.next_deadline(), 1000u + 16000u);
    apic.update(now);
    EXPECT_FALSE(apic.has_interrupt());
    now = 17000;
    apic.update(now);
    EXPECT_EQ(apic.acknowledge(), 0xec);
    EXPECT_EQ(apic.mmio_read(current_count), 0u);
    EXPECT_FALSE(apic.next_deadline().has_value());
}

TEST_F(LocalApicTest, PeriodicTimerReloadsAndCoalesces) {
    enable();
    apic.mmio_write(divide, 0xb); // divide by 1
    apic.mmio_write(lvt_timer, 0x20000 | 0xed);
    apic.mmio_write(initial_count, 1'000'000); // 1 ms
    now += 2'500'000;
    EXPECT_EQ(apic.mmio_read(current_count), 500'000u);
    apic.update(now);
    EXPECT_EQ(apic.acknowledge(), 0xed);
    apic.mmio_write(eoi, 0);
    EXPECT_FALSE(apic.has_interrupt()); // two missed periods, one interrupt
    ASSERT_TRUE(apic.next_deadline().has_value());
    EXPECT_EQ(*apic.next_deadline(), 1000u + 3'000'000u);
    apic.mmio_write(initial_count, 0); // stops it
    EXPECT_FALSE(apic.next_deadline().has_value());
}

TEST_F(LocalApicTest, MaskedTimerDoesNotInterrupt) {
    enable();
    apic.mmio_write(lvt_timer, 0x10000 | 0xec);
    apic.mmio_write(initial_count, 10);
    now += 1000;
    apic.update(now);
    EXPECT_FALSE(apic.has_interrupt());
}

TEST_F(LocalApicTest, TscDeadlineMode) {
    enable();
    apic.set_tsc_deadline(5000); // ignored outside TSC-deadline mode
    EXPECT_EQ(apic.tsc_deadline(), 0u);
    apic.mmio_write(lvt_timer, 0x40000 | 0xef);
    apic.mmio_write(initial_count, 100); // ignored in this mode
    EXPECT_EQ(apic.mmio_read(initial_count), 0u);
    apic.set_tsc_deadline(10'000); // TSC at 2 GHz: 5000 ns
    EXPECT_EQ(apic.tsc_deadline(), 10'000u);
    ASSERT_TRUE(apic.next_deadline().has_value());
    EXPECT_EQ(*apic.next_deadline(), 5000u);
    now = 4999;
    apic.update(now);
    EXPECT_FALSE(apic.has_interrupt());
    now = 5000;
    apic.update(now);
    EXPECT_EQ(apic.acknowledge(), 0xef);
    EXPECT_EQ(apic.tsc_deadline(), 0u); // disarmed after firing
}

TEST_F(LocalApicTest, IcrSendsIpiMessages) {
    enable();
    apic.mmio_write(icr_high, 0x03000000);
    apic.mmio_write(icr_low, 0x000040fd); // fixed, physical, assert, vector 0xfd
    ASSERT_EQ(ipis.size(), 1u);
    EXPECT_EQ(ipis[0].destination, 3u);
    EXPECT_EQ(ipis[0].vector, 0xfd);
    EXPECT_EQ(ipis[0].delivery_mode, ApicMessage::DeliveryMode::Fixed);
    EXPECT_FALSE(ipis[0].wide_destination);
    EXPECT_EQ(apic.mmio_read(icr_low) & 0x1000, 0u); // delivery status idle
    apic.mmio_write(icr_low, 0x000c4500);            // INIT, all excluding self
    EXPECT_EQ(ipis[1].delivery_mode, ApicMessage::DeliveryMode::Init);
    EXPECT_EQ(ipis[1].shorthand, ApicMessage::Shorthand::AllExcludingSelf);
    apic.mmio_write(icr_low, 0x00000005); // fixed vector 5 is illegal
    EXPECT_EQ(ipis.size(), 2u);
    apic.mmio_write(esr, 0);
    EXPECT_EQ(apic.mmio_read(esr), 0x20u);
}

TEST_F(LocalApicTest, InitAndStartupAreQueuedForTheInterpreter) {
    enable();
    fixed(0x40);
    ApicMessage init;
    init.delivery_mode = ApicMessage::DeliveryMode::Init;
    ASSERT_TRUE(apic.accept(init));
    EXPECT_FALSE(irr_bit(0x40)); // INIT reset the APIC
    EXPECT_EQ(apic.mmio_read(svr), 0xffu);
    ApicMessage sipi;
    sipi.delivery_mode = ApicMessage::DeliveryMode::StartUp;
    sipi.vector = 0x9a;
    apic.accept(sipi);
    auto first = apic.take_startup_request();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->kind, StartupRequest::Kind::Init);
    auto second = apic.take_startup_request();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->kind, StartupRequest::Kind::StartUp);
    EXPECT_EQ(second->vector, 0x9a);
    EXPECT_FALSE(apic.take_startup_request().has_value());
    // A de-assert INIT (level, not asserted) does nothing.
    init.level_triggered = true;
    init.assert_level = false;
    apic.accept(init);
    EXPECT_FALSE(apic.has_startup_request());
}

TEST_F(LocalApicTest, DestinationMatchingXApic) {
    enable();
    EXPECT_TRUE(apic.matches_destination(0, false, false));
    EXPECT_FALSE(apic.matches_destination(1, false, false));
    EXPECT_TRUE(apic.matches_destination(0xff, false, false));
    apic.mmio_write(0xd0, 0x04000000);                        // logical ID bit 2
    EXPECT_TRUE(apic.matches_destination(0x0c, true, false)); // flat model
    EXPECT_FALSE(apic.matches_destination(0x03, true, false));
    apic.mmio_write(0xe0, 0x0fffffff); // cluster model
    apic.mmio_write(0xd0, 0x21000000); // cluster 2, member bit 0
    EXPECT_TRUE(apic.matches_destination(0x21, true, false));
    EXPECT_FALSE(apic.matches_destination(0x11, true, false));
}

TEST_F(LocalApicTest, ApicBaseTransitions) {
    EXPECT_FALSE(apic.set_apic_base(0xfee00000 | 0x400));       // disabled + EXTD
    EXPECT_FALSE(apic.set_apic_base(0xfee00000 | 0x900 | 0x1)); // reserved bit
    EXPECT_TRUE(apic.set_apic_base(0xfee00000 | 0xc00));        // xAPIC -> x2APIC
    EXPECT_EQ(apic.mode(), LocalApic::Mode::X2Apic);
    EXPECT_EQ(apic.apic_base(), 0xfee00d00u);             // BSP bit kept
    EXPECT_FALSE(apic.set_apic_base(0xfee00000 | 0x800)); // x2APIC -> xAPIC
    EXPECT_TRUE(apic.set_apic_base(0xfee00000));          // -> disabled
    EXPECT_EQ(apic.mode(), LocalApic::Mode::Disabled);
    EXPECT_FALSE(apic.set_apic_base(0xfee00000 | 0xc00)); // disabled -> x2APIC
    EXPECT_TRUE(apic.set_apic_base(0xfed00000 | 0x800));  // relocated xAPIC
    EXPECT_EQ(apic.apic_base(), 0xfed00900u);
    EXPECT_TRUE(apic.accepts_pic_interrupts());
}

TEST_F(LocalApicTest, X2ApicMsrs) {
    std::uint64_t value = 0;
    EXPECT_FALSE(apic.msr_read(0x802, value)); // xAPIC mode: #GP
    ASSERT_TRUE(apic.set_apic_base(0xfee00c00));
    ASSERT_TRUE(apic.msr_read(0x802, value));
    EXPECT_EQ(value, 0u); // full 32-bit ID
    ASSERT_TRUE(apic.msr_read(0x80d, value));
    EXPECT_EQ(value, 0x00000001u);             // LDR: cluster 0, bit 0
    EXPECT_FALSE(apic.msr_read(0x80b, value)); // EOI is write-only
    EXPECT_FALSE(apic.msr_read(0x80e, value)); // no DFR in x2APIC mode
    EXPECT_FALSE(apic.msr_write(0x802, 5));    // ID is read-only
    EXPECT_FALSE(apic.msr_write(0x80b, 1));    // non-zero EOI
    ASSERT_TRUE(apic.msr_write(0x80f, 0x1ff));
    ASSERT_TRUE(apic.msr_write(0x830, (std::uint64_t{7} << 32) | 0x40f0));
    ASSERT_EQ(ipis.size(), 1u);
    EXPECT_EQ(ipis[0].destination, 7u);
    EXPECT_TRUE(ipis[0].wide_destination);
    ASSERT_TRUE(apic.msr_write(0x83f, 0x55)); // SELF IPI
    ASSERT_EQ(ipis.size(), 2u);
    EXPECT_EQ(ipis[1].shorthand, ApicMessage::Shorthand::Self);
    EXPECT_EQ(ipis[1].vector, 0x55);
    EXPECT_FALSE(apic.msr_write(0x900, 0)); // outside the range
    EXPECT_TRUE(apic.matches_destination(0x00010001, true, true) == false);
    EXPECT_TRUE(apic.matches_destination(0x00000001, true, true));
    EXPECT_TRUE(apic.matches_destination(0xffffffff, false, true));
}

TEST_F(LocalApicTest, BadMmioOffsetsAreHarmless) {
    enable();
    EXPECT_EQ(apic.mmio_read(0x1000), 0u);
    EXPECT_EQ(apic.mmio_read(0xffffffff), 0u);
    EXPECT_EQ(apic.mmio_read(0x24), 0u);
    apic.mmio_write(0xfff0, 1);
    apic.mmio_write(0x3f0, 1);
    apic.mmio_write(esr, 0);
    EXPECT_EQ(apic.mmio_read(esr), 0x80u); // illegal register address
}

// The mode is part of the saved state (the base MSR): an x2APIC restored is an x2APIC, its
// MSRs answer and its MMIO page does not; a base MSR with EXTD but not EN (no such mode) or a
// reserved bit is refused by the load.
TEST_F(LocalApicTest, SnapshotKeepsX2apicModeAndRefusesImpossibleBases) {
    ASSERT_TRUE(apic.set_apic_base(0xfee00c00));
    enable();
    ASSERT_TRUE(apic.msr_write(0x808, 0x20)); // TPR
    StateWriter writer;
    apic.save_state(writer);
    const std::vector<std::uint8_t> saved = writer.take();

    LocalApic restored{0, true, 2'000'000'000, [this] { return now; }, LocalApic::Hooks{}};
    StateReader reader(saved);
    restored.load_state(reader);
    ASSERT_TRUE(reader.finish("apic")) << reader.error();
    EXPECT_EQ(restored.mode(), LocalApic::Mode::X2Apic);
    EXPECT_EQ(restored.apic_base(), 0xfee00d00u);
    std::uint64_t value = 0;
    EXPECT_TRUE(restored.msr_read(0x808, value));
    EXPECT_EQ(value, 0x20u);
    EXPECT_FALSE(restored.set_apic_base(0xfee00900)); // x2APIC -> xAPIC stays illegal

    for (std::uint64_t bad : {0xfee00500ull, 0xfee00d01ull, (1ull << 60) | 0xfee00900ull}) {
        std::vector<std::uint8_t> bytes = saved;
        std::memcpy(bytes.data(), &bad, sizeof bad); // the base MSR is the first field
        LocalApic target{0, true, 2'000'000'000, [this] { return now; }, LocalApic::Hooks{}};
        StateReader bad_reader(bytes);
        target.load_state(bad_reader);
        EXPECT_FALSE(bad_reader.finish("apic")) << std::hex << bad;
    }
}
