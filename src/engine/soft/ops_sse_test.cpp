// SSE handlers: corner cases the differential test (tools/difftest) found against the host.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint32_t mxcsr_default = 0x1f80;
constexpr std::uint32_t mxcsr_precision = 1u << 5;
constexpr std::uint32_t mxcsr_round_down = 1u << 13;

std::uint32_t float_bits(float value) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, 4);
    return bits;
}

std::uint64_t double_bits(double value) {
    std::uint64_t bits;
    std::memcpy(&bits, &value, 8);
    return bits;
}

/// A machine in 32-bit protected mode with SSE enabled.
struct SseMachine : SoftTestMachine {
    SseMachine() { state.cr4 |= x86::cr4::osfxsr; }
    std::uint64_t* xmm(unsigned index) { return soft_vcpu().core().fpu.xmm[index].q; }
    VcpuExit run_code(std::initializer_list<std::uint8_t> code) {
        load(code_address, code);
        EXPECT_TRUE(vcpu->set_state(state));
        const VcpuExit exit = vcpu->run();
        state = vcpu->state().value();
        return exit;
    }
};

} // namespace

TEST(OpsSse, PmulhwMultipliesSignedWords) {
    SseMachine machine;
    machine.xmm(0)[0] = 0x0003'7fff'8000'e591; // -6767, -32768, 32767, 3
    machine.xmm(0)[1] = 0;
    // pmulhw xmm0,xmm0; pmulhuw xmm1,xmm1 (xmm1 = the same words); hlt
    machine.xmm(1)[0] = machine.xmm(0)[0];
    ASSERT_EQ(machine.run_code({0x66, 0x0f, 0xe5, 0xc0, 0x66, 0x0f, 0xe4, 0xc9, 0xf4}).kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.xmm(0)[0], 0x0000'3fff'4000'02bau);
    EXPECT_EQ(machine.xmm(1)[0], 0x0000'3fff'4000'cddcu);
}

TEST(OpsSse, AddKeepsTheDestinationNanWhenBothAreNan) {
    SseMachine machine;
    machine.xmm(0)[0] = 0x7ff80000'7ff80000;
    machine.xmm(0)[1] = 0;
    machine.xmm(1)[0] = 0x7fc00001'3f800000;
    machine.xmm(1)[1] = 0;
    // addps xmm0,xmm1; hlt
    ASSERT_EQ(machine.run_code({0x0f, 0x58, 0xc1, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.xmm(0)[0], 0x7ff80000'7ff80000u);
}

TEST(OpsSse, DivisionFollowsMxcsrRoundingAndSetsPrecision) {
    SseMachine machine;
    machine.soft_vcpu().core().fpu.mxcsr = mxcsr_default | mxcsr_round_down;
    machine.xmm(0)[0] = float_bits(1.0f);
    machine.xmm(1)[0] = float_bits(3.0f);
    // divss xmm0,xmm1; hlt
    ASSERT_EQ(machine.run_code({0xf3, 0x0f, 0x5e, 0xc1, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(static_cast<std::uint32_t>(machine.xmm(0)[0]), 0x3eaaaaaau); // nearest is ...ab
    EXPECT_EQ(machine.soft_vcpu().core().fpu.mxcsr,
              mxcsr_default | mxcsr_round_down | mxcsr_precision);
}

TEST(OpsSse, ConversionsFromMemoryAndPackedDoubles) {
    SseMachine machine;
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(0x3000, double_bits(2.5)));
    machine.xmm(1)[0] = double_bits(1.5);
    machine.xmm(1)[1] = double_bits(-2.25);
    machine.xmm(2)[0] = machine.xmm(1)[0];
    machine.xmm(2)[1] = double_bits(-7.5);
    // cvtsd2si eax,[0x3000]; cvtpd2ps xmm0,xmm1; cvttpd2dq xmm3,xmm2; hlt
    ASSERT_EQ(machine
                  .run_code({0xf2, 0x0f, 0x2d, 0x05, 0x00, 0x30, 0x00, 0x00, 0x66, 0x0f, 0x5a, 0xc1,
                             0x66, 0x0f, 0xe6, 0xda, 0xf4})
                  .kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rax), 2u); // round to nearest even
    EXPECT_EQ(machine.xmm(0)[0], std::uint64_t{float_bits(-2.25f)} << 32 | float_bits(1.5f));
    EXPECT_EQ(machine.xmm(0)[1], 0u);
    EXPECT_EQ(machine.xmm(3)[0], 0xfffffff9'00000001u); // -7, 1
    EXPECT_EQ(machine.xmm(3)[1], 0u);
}

TEST(OpsSse, ReciprocalsApproximateWithinTheSdmBound) {
    SseMachine machine;
    machine.xmm(1)[0] = std::uint64_t{float_bits(4.0f)} << 32 | float_bits(0.25f);
    machine.xmm(1)[1] = std::uint64_t{float_bits(9.0f)} << 32 | float_bits(2.0f);
    machine.xmm(2)[0] = machine.xmm(1)[0];
    machine.xmm(2)[1] = machine.xmm(1)[1];
    // rcpps xmm0,xmm1; rsqrtps xmm2,xmm2; hlt
    ASSERT_EQ(machine.run_code({0x0f, 0x53, 0xc1, 0x0f, 0x52, 0xd2, 0xf4}).kind,
              VcpuExit::Kind::Halted);
    const float inputs[4] = {0.25f, 4.0f, 2.0f, 9.0f};
    for (unsigned i = 0; i < 4; ++i) {
        float reciprocal, reciprocal_root;
        std::memcpy(&reciprocal, reinterpret_cast<std::uint8_t*>(machine.xmm(0)) + 4 * i, 4);
        std::memcpy(&reciprocal_root, reinterpret_cast<std::uint8_t*>(machine.xmm(2)) + 4 * i, 4);
        EXPECT_NEAR(reciprocal * inputs[i], 1.0f, 1.5f / 4096) << i;
        EXPECT_NEAR(reciprocal_root * std::sqrt(inputs[i]), 1.0f, 1.5f / 4096) << i;
    }
}

TEST(OpsSse, PackedArithmeticOnMisalignedMemoryRaisesGp) {
    SseMachine machine;
    machine.install_gdt();
    machine.set_idt_gate(13, 0x2000);
    machine.load(0x2000, {0xf4}); // #GP handler: hlt
    // addps xmm0,[0x3008] (misaligned); hlt at 0x1007
    ASSERT_EQ(machine.run_code({0x0f, 0x58, 0x05, 0x08, 0x30, 0x00, 0x00, 0xf4}).kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.state.rip, 0x2001u); // stopped in the #GP handler, not after addps
}
