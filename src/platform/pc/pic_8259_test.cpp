// Pic8259: initialization, priorities, EOI, cascade, level triggering, poll and spurious IRQs.
#include "platform/pc/pic_8259.hpp"

#include <gtest/gtest.h>

#include "devices/legacy/test_support.hpp"

using namespace vessel;
using namespace vessel::testing;

namespace {

/// Programs both chips the way Linux and BIOSes do: vectors 0x20/0x28, cascade on IR2.
void initialize(Pic8259& pic, std::uint8_t icw4 = 0x01) {
    write8(pic.master_window(), 0, 0x11); // ICW1: edge, cascade, ICW4 needed
    write8(pic.master_window(), 1, 0x20); // ICW2
    write8(pic.master_window(), 1, 0x04); // ICW3: slave on IR2
    write8(pic.master_window(), 1, icw4);
    write8(pic.slave_window(), 0, 0x11);
    write8(pic.slave_window(), 1, 0x28);
    write8(pic.slave_window(), 1, 0x02);
    write8(pic.slave_window(), 1, icw4);
}

void eoi(BusDevice& chip) {
    write8(chip, 0, 0x20);
}

} // namespace

TEST(Pic8259, EdgeRequestDeliversVectorAndWaitsForEoi) {
    Pic8259 pic;
    initialize(pic);
    EXPECT_FALSE(pic.has_interrupt());
    pic.set_irq_level(1, true);
    ASSERT_TRUE(pic.has_interrupt());
    EXPECT_EQ(read8(pic.master_window(), 0), 0x02); // IRR
    EXPECT_EQ(pic.acknowledge(), 0x21);
    EXPECT_FALSE(pic.has_interrupt());
    write8(pic.master_window(), 0, 0x0b); // OCW3: read ISR
    EXPECT_EQ(read8(pic.master_window(), 0), 0x02);
    // A new edge while in service is held until EOI.
    pic.set_irq_level(1, false);
    pic.set_irq_level(1, true);
    EXPECT_FALSE(pic.has_interrupt());
    eoi(pic.master_window());
    EXPECT_EQ(read8(pic.master_window(), 0), 0x00);
    EXPECT_TRUE(pic.has_interrupt());
    EXPECT_EQ(pic.acknowledge(), 0x21);
}

TEST(Pic8259, HeldEdgeLineRequestsOnlyOnce) {
    Pic8259 pic;
    initialize(pic);
    pic.set_irq_level(4, true);
    EXPECT_EQ(pic.acknowledge(), 0x24);
    eoi(pic.master_window());
    pic.set_irq_level(4, true);
    EXPECT_FALSE(pic.has_interrupt());
}

TEST(Pic8259, MaskedLineIsHeldUntilUnmasked) {
    Pic8259 pic;
    initialize(pic);
    write8(pic.master_window(), 1, 0x01); // OCW1: mask IRQ0
    EXPECT_EQ(read8(pic.master_window(), 1), 0x01);
    pic.set_irq_level(0, true);
    pic.set_irq_level(0, false);
    EXPECT_FALSE(pic.has_interrupt());
    write8(pic.master_window(), 1, 0x00);
    ASSERT_TRUE(pic.has_interrupt());
    EXPECT_EQ(pic.acknowledge(), 0x20);
}

TEST(Pic8259, LowerLineHasHigherPriorityAndNests) {
    Pic8259 pic;
    initialize(pic);
    pic.set_irq_level(5, true);
    pic.set_irq_level(3, true);
    EXPECT_EQ(pic.acknowledge(), 0x23);
    // IRQ5 is lower priority than the in-service IRQ3: held.
    EXPECT_FALSE(pic.has_interrupt());
    // IRQ1 outranks it: nests.
    pic.set_irq_level(1, true);
    EXPECT_EQ(pic.acknowledge(), 0x21);
    eoi(pic.master_window()); // non-specific EOI ends the highest in service: IRQ1
    EXPECT_FALSE(pic.has_interrupt());
    eoi(pic.master_window()); // IRQ3
    EXPECT_EQ(pic.acknowledge(), 0x25);
}

TEST(Pic8259, SpecificEoiClearsTheNamedLine) {
    Pic8259 pic;
    initialize(pic);
    pic.set_irq_level(3, true);
    pic.set_irq_level(1, true);
    EXPECT_EQ(pic.acknowledge(), 0x21);
    pic.set_irq_level(0, true);
    EXPECT_EQ(pic.acknowledge(), 0x20);
    write8(pic.master_window(), 0, 0x61); // specific EOI for IRQ1
    write8(pic.master_window(), 0, 0x0b);
    EXPECT_EQ(read8(pic.master_window(), 0), 0x01); // IRQ0 still in service
}

TEST(Pic8259, CascadedSlaveLineUsesSlaveVector) {
    Pic8259 pic;
    initialize(pic);
    pic.set_irq_level(12, true);
    ASSERT_TRUE(pic.has_interrupt());
    EXPECT_EQ(pic.acknowledge(), 0x2c);
    write8(pic.master_window(), 0, 0x0b);
    EXPECT_EQ(read8(pic.master_window(), 0), 0x04); // IR2 in service on the master
    write8(pic.slave_window(), 0, 0x0b);
    EXPECT_EQ(read8(pic.slave_window(), 0), 0x10);
    // Another slave request waits for both EOIs.
    pic.set_irq_level(9, true);
    EXPECT_FALSE(pic.has_interrupt());
    eoi(pic.slave_window());
    EXPECT_FALSE(pic.has_interrupt()); // master IR2 still in service
    eoi(pic.master_window());
    ASSERT_TRUE(pic.has_interrupt());
    EXPECT_EQ(pic.acknowledge(), 0x29);
}

TEST(Pic8259, MaskingTheCascadeBlocksSlaveLines) {
    Pic8259 pic;
    initialize(pic);
    write8(pic.master_window(), 1, 0x04);
    pic.set_irq_level(14, true);
    EXPECT_FALSE(pic.has_interrupt());
    write8(pic.master_window(), 1, 0x00);
    EXPECT_EQ(pic.acknowledge(), 0x2e);
}

TEST(Pic8259, ElcrMakesLineLevelTriggered) {
    Pic8259 pic;
    initialize(pic);
    write8(pic.elcr_window(), 1, 0xff); // slave: all but the reserved IRQ8/13 bits
    EXPECT_EQ(read8(pic.elcr_window(), 1), 0xde);
    write8(pic.elcr_window(), 0, 0xff);
    EXPECT_EQ(read8(pic.elcr_window(), 0), 0xf8);
    pic.set_irq_level(11, true);
    EXPECT_EQ(pic.acknowledge(), 0x2b);
    eoi(pic.slave_window());
    eoi(pic.master_window());
    // Still high: requests again without a new edge.
    ASSERT_TRUE(pic.has_interrupt());
    EXPECT_EQ(pic.acknowledge(), 0x2b);
    pic.set_irq_level(11, false); // the handler quiets the device before EOI
    eoi(pic.slave_window());
    eoi(pic.master_window());
    EXPECT_FALSE(pic.has_interrupt());
}

TEST(Pic8259, LevelRequestDroppedBeforeAckIsSpurious) {
    Pic8259 pic;
    initialize(pic);
    write8(pic.elcr_window(), 0, 0x20);
    pic.set_irq_level(5, true);
    EXPECT_TRUE(pic.has_interrupt());
    pic.set_irq_level(5, false);
    EXPECT_FALSE(pic.has_interrupt());
    EXPECT_EQ(pic.acknowledge(), 0x27); // spurious IRQ 7
    write8(pic.master_window(), 0, 0x0b);
    EXPECT_EQ(read8(pic.master_window(), 0), 0x00); // and nothing in service
}

TEST(Pic8259, SpuriousSlaveInterruptIsVector15) {
    Pic8259 pic;
    initialize(pic);
    write8(pic.elcr_window(), 1, 0x08); // IRQ11 level
    pic.set_irq_level(11, true);
    ASSERT_TRUE(pic.has_interrupt()); // master IR2 latched the slave's edge
    pic.set_irq_level(11, false);
    EXPECT_EQ(pic.acknowledge(), 0x2f);
}

TEST(Pic8259, AutoEoiLeavesNothingInService) {
    Pic8259 pic;
    initialize(pic, 0x03); // ICW4: 8086 mode, auto-EOI
    pic.set_irq_level(3, true);
    EXPECT_EQ(pic.acknowledge(), 0x23);
    write8(pic.master_window(), 0, 0x0b);
    EXPECT_EQ(read8(pic.master_window(), 0), 0x00);
    pic.set_irq_level(4, true);
    EXPECT_EQ(pic.acknowledge(), 0x24);
}

TEST(Pic8259, PollCommandReturnsAndAcknowledgesLine) {
    Pic8259 pic;
    initialize(pic);
    pic.set_irq_level(6, true);
    write8(pic.master_window(), 0, 0x0c); // OCW3 poll
    EXPECT_EQ(read8(pic.master_window(), 0), 0x86);
    write8(pic.master_window(), 0, 0x0c);
    EXPECT_EQ(read8(pic.master_window(), 0), 0x00); // nothing else pending
    EXPECT_FALSE(pic.has_interrupt());
}

TEST(Pic8259, RotateOnEoiMakesServedLineLowestPriority) {
    Pic8259 pic;
    initialize(pic);
    pic.set_irq_level(0, true);
    EXPECT_EQ(pic.acknowledge(), 0x20);
    write8(pic.master_window(), 0, 0xa0); // rotate on non-specific EOI
    pic.set_irq_level(0, false);
    pic.set_irq_level(0, true);
    pic.set_irq_level(1, true);
    EXPECT_EQ(pic.acknowledge(), 0x21); // IRQ0 now lowest
}

TEST(Pic8259, Icw1ResetsMaskAndInitSequenceSetsBase) {
    Pic8259 pic;
    write8(pic.master_window(), 1, 0xff);
    write8(pic.master_window(), 0, 0x11);
    EXPECT_EQ(read8(pic.master_window(), 1), 0x00);
    write8(pic.master_window(), 1, 0x08);
    write8(pic.master_window(), 1, 0x04);
    write8(pic.master_window(), 1, 0x01);
    write8(pic.master_window(), 1, 0xfe); // now OCW1
    EXPECT_EQ(read8(pic.master_window(), 1), 0xfe);
    pic.set_irq_level(0, true);
    EXPECT_EQ(pic.acknowledge(), 0x08);
}

TEST(Pic8259, IgnoresOutOfRangeLinesAndPorts) {
    Pic8259 pic;
    initialize(pic);
    pic.set_irq_level(16, true);
    pic.set_irq_level(0xffffffff, true);
    EXPECT_FALSE(pic.has_interrupt());
    EXPECT_EQ(read8(pic.master_window(), 5), 0xff);
    write8(pic.master_window(), 9, 0x00);
}
