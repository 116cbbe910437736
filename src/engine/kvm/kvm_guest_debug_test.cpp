// Debug-register encoding for KVM_SET_GUEST_DEBUG (no /dev/kvm needed).
#include "engine/kvm/kvm_guest_debug.hpp"

#include <gtest/gtest.h>

namespace vessel::kvm {
namespace {

TEST(KvmGuestDebug, DisabledIsControlZero) {
    DebugRegisterSlots slots;
    auto encoded = encode_guest_debug(GuestDebug{}, true, slots);
    ASSERT_TRUE(encoded);
    EXPECT_EQ(encoded->control, 0u);
}

TEST(KvmGuestDebug, BreakpointsAndWatchpointsFillDebugRegisters) {
    GuestDebug debug;
    debug.enabled = true;
    debug.single_step = true;
    debug.software_breakpoints = {0xffffffff81000000};
    debug.hardware_points = {{DebugPointKind::Write, 0x2000, 4}, {DebugPointKind::Read, 0x3008, 8}};
    DebugRegisterSlots slots;
    auto encoded = encode_guest_debug(debug, true, slots);
    ASSERT_TRUE(encoded) << encoded.error().message;
    EXPECT_EQ(encoded->control, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP |
                                    KVM_GUESTDBG_BLOCKIRQ | KVM_GUESTDBG_USE_HW_BP);
    EXPECT_EQ(encoded->arch.debugreg[0], 0xffffffff81000000u);
    EXPECT_EQ(encoded->arch.debugreg[1], 0x2000u);
    EXPECT_EQ(encoded->arch.debugreg[2], 0x3008u);
    // L0 G0 L1 G1 L2 G2, LE GE, DR1: write, 4 bytes (RW 01, LEN 11); DR2: read/write, 8 (11, 10).
    const std::uint64_t dr7 =
        0x3f | 0x300 | (0x1ull << 20 | 0x3ull << 22) | (0x3ull << 24 | 0x2ull << 26);
    EXPECT_EQ(encoded->arch.debugreg[7], dr7);
    kvm_debug_exit_arch hit{};
    hit.dr6 = 1u << 1;
    hit.pc = 0x1234;
    DebugEvent event = decode_debug_exit(hit, slots);
    EXPECT_EQ(event.kind, DebugEvent::Kind::Watchpoint);
    EXPECT_EQ(event.address, 0x2000u);
    hit.dr6 = 1u << 14;
    EXPECT_EQ(decode_debug_exit(hit, slots).kind, DebugEvent::Kind::Step);
    hit.dr6 = 1u;
    EXPECT_EQ(decode_debug_exit(hit, slots).kind, DebugEvent::Kind::Breakpoint);
}

TEST(KvmGuestDebug, RefusesWhatDebugRegistersCannotDo) {
    DebugRegisterSlots slots;
    GuestDebug five;
    five.enabled = true;
    five.software_breakpoints = {1, 2, 3, 4, 5};
    EXPECT_FALSE(encode_guest_debug(five, true, slots));
    GuestDebug odd;
    odd.enabled = true;
    odd.hardware_points = {{DebugPointKind::Write, 0x2000, 3}};
    EXPECT_FALSE(encode_guest_debug(odd, true, slots));
    odd.hardware_points = {{DebugPointKind::Write, 0x2002, 4}};
    EXPECT_FALSE(encode_guest_debug(odd, true, slots));
}

} // namespace
} // namespace vessel::kvm
