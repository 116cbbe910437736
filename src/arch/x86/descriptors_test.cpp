#include "arch/x86/descriptors.hpp"

#include <gtest/gtest.h>

namespace vessel::x86 {
namespace {

TEST(Descriptors, DecodesAFlat64BitCodeSegment) {
    // The usual 64-bit kernel code descriptor: base 0, limit 0xfffff pages, type 0xb, L and G.
    const SegmentRegister code = decode_segment_descriptor(0x00af9b000000ffff, 0x10);
    EXPECT_EQ(code.base, 0u);
    EXPECT_EQ(code.limit, 0xffff'ffffu);
    EXPECT_EQ(code.type,
              segment_type::code | segment_type::readable_or_writable | segment_type::accessed);
    EXPECT_FALSE(code.system);
    EXPECT_EQ(code.dpl, 0);
    EXPECT_TRUE(code.present);
    EXPECT_TRUE(code.long_mode);
    EXPECT_FALSE(code.default_big);
    EXPECT_EQ(code.selector, 0x10);
}

TEST(Descriptors, DecodesBaseLimitAndDplOfAByteGranularDataSegment) {
    // Base 0x12345678, limit 0x5abcd bytes, type 3 (data, writable, accessed), DPL 3, D/B.
    const SegmentRegister data = decode_segment_descriptor(0x1245f3345678abcd, 0x2b);
    EXPECT_EQ(data.base, 0x12345678u);
    EXPECT_EQ(data.limit, 0x5abcdu);
    EXPECT_EQ(data.type, 3);
    EXPECT_EQ(data.dpl, 3);
    EXPECT_TRUE(data.default_big);
    EXPECT_FALSE(data.granularity);
}

TEST(Descriptors, RecognisesSixteenByteSystemDescriptors) {
    const SegmentRegister tss = decode_segment_descriptor(0x0000890000000067, 0x40);
    EXPECT_TRUE(tss.system);
    EXPECT_EQ(tss.type, system_type::tss_available);
    EXPECT_TRUE(is_wide_system_descriptor(system_type::tss_available));
    EXPECT_TRUE(is_wide_system_descriptor(system_type::tss_busy));
    EXPECT_TRUE(is_wide_system_descriptor(system_type::ldt));
    EXPECT_FALSE(is_wide_system_descriptor(system_type::interrupt_gate16));
}

TEST(Descriptors, DecodesA64BitInterruptGate) {
    // Handler 0xffffffff81234567 in selector 0x10, DPL 3, present, IST 2.
    const GateDescriptor gate = decode_gate_descriptor(0x8123ee0200104567, 0xffffffff, true);
    EXPECT_EQ(gate.type, system_type::interrupt_gate);
    EXPECT_EQ(gate.dpl, 3);
    EXPECT_TRUE(gate.present);
    EXPECT_EQ(gate.selector, 0x10);
    EXPECT_EQ(gate.offset, 0xffffffff81234567u);
    EXPECT_EQ(gate.ist, 2);
}

TEST(Descriptors, ALegacyGateHasNoIstAndNo64BitOffset) {
    const GateDescriptor gate = decode_gate_descriptor(0x00128f0200084567, 0xffffffff, false);
    EXPECT_EQ(gate.type, system_type::trap_gate);
    EXPECT_EQ(gate.offset, 0x00124567u);
    EXPECT_EQ(gate.ist, 0);
}

TEST(Descriptors, SelectorFields) {
    EXPECT_TRUE(selector::is_null(0x3));
    EXPECT_FALSE(selector::is_null(0x8));
    EXPECT_EQ(selector::error_code(0x2b), 0x28u);
    EXPECT_EQ(tss::ist_offset(1), 0x24u);
    EXPECT_EQ(tss::rsp_offset(0), 4u);
    EXPECT_EQ(tss::ss_offset(1), 16u);
}

} // namespace
} // namespace vessel::x86
