// SSE3-SSE4.2 handlers: one instruction of each kind against values worked out from the SDM
// (tools/difftest compares them with the host over random operands).
#include <gtest/gtest.h>

#include <cstring>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint64_t cf = x86::rflags::cf, zf = x86::rflags::zf;

struct SseMachine : SoftTestMachine {
    explicit SseMachine(soft::CpuModel model = soft::CpuModel::Max) {
        state.cr4 |= x86::cr4::osfxsr;
        soft_vcpu().core().set_cpu_model(model);
    }
    std::uint64_t* xmm(unsigned index) { return soft_vcpu().core().fpu.xmm[index].q; }
    VcpuExit run_code(std::initializer_list<std::uint8_t> code) {
        load(code_address, code);
        EXPECT_TRUE(vcpu->set_state(state));
        const VcpuExit exit = vcpu->run();
        state = vcpu->state().value();
        return exit;
    }
};

std::uint64_t double_bits(double value) {
    std::uint64_t bits;
    std::memcpy(&bits, &value, 8);
    return bits;
}

} // namespace

TEST(OpsSse4, PshufbSelectsAndZeroesBytes) {
    SseMachine machine;
    machine.xmm(0)[0] = 0x0706'0504'0302'0100;
    machine.xmm(0)[1] = 0x0f0e'0d0c'0b0a'0908;
    machine.xmm(1)[0] = 0x8000'0000'0000'000f; // byte 0 <- byte 15, byte 7 zeroed
    machine.xmm(1)[1] = 0x0101'0101'0101'0101;
    // pshufb xmm0,xmm1; hlt
    ASSERT_EQ(machine.run_code({0x66, 0x0f, 0x38, 0x00, 0xc1, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.xmm(0)[0], 0x0000'0000'0000'000fu);
    EXPECT_EQ(machine.xmm(0)[1], 0x0101'0101'0101'0101u);
}

TEST(OpsSse4, PcmpistriFindsASubstring) {
    SseMachine machine;
    const char needle[16] = "lo";
    const char haystack[16] = "hello world";
    std::memcpy(machine.xmm(0), needle, 16);
    std::memcpy(machine.xmm(1), haystack, 16);
    // pcmpistri xmm0,xmm1,0x0c (unsigned bytes, equal ordered, least significant index); hlt
    ASSERT_EQ(machine.run_code({0x66, 0x0f, 0x3a, 0x63, 0xc1, 0x0c, 0xf4}).kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rcx), 3u);
    EXPECT_EQ(machine.state.rflags & (cf | zf), cf | zf); // a match; the haystack ends in it
}

TEST(OpsSse4, Crc32ComputesCastagnoli) {
    SseMachine machine;
    ASSERT_TRUE(machine.memory.write<std::uint8_t>(0x3000, '1'));
    machine.state.gpr[x86::rax] = 0xffff'ffff;
    // crc32b eax,[0x3000]; hlt
    ASSERT_EQ(machine.run_code({0xf2, 0x0f, 0x38, 0xf0, 0x05, 0x00, 0x30, 0x00, 0x00, 0xf4}).kind,
              VcpuExit::Kind::Halted);
    // CRC-32C of "1" is 0x90f599e3; the instruction leaves the register before the final
    // inversion.
    EXPECT_EQ(machine.reg(x86::rax), 0x6f0a'661cu);
}

TEST(OpsSse4, PtestSetsZfAndCf) {
    SseMachine machine;
    machine.xmm(0)[0] = 0xff00;
    machine.xmm(1)[0] = 0x00ff;
    // ptest xmm0,xmm1; hlt: a AND b = 0 (ZF), NOT a AND b != 0 (no CF)
    ASSERT_EQ(machine.run_code({0x66, 0x0f, 0x38, 0x17, 0xc1, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.state.rflags & (cf | zf), zf);
}

TEST(OpsSse4, RoundsdRoundsDownByImmediateAndKeepsTheUpperHalf) {
    SseMachine machine;
    machine.xmm(0)[1] = 0x1234;
    machine.xmm(1)[0] = double_bits(-2.5);
    // roundsd xmm0,xmm1,1 (toward -inf); hlt
    ASSERT_EQ(machine.run_code({0x66, 0x0f, 0x3a, 0x0b, 0xc1, 0x01, 0xf4}).kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.xmm(0)[0], double_bits(-3.0));
    EXPECT_EQ(machine.xmm(0)[1], 0x1234u);
}

TEST(OpsSse4, PmovzxbwReadsEightBytesFromMemory) {
    SseMachine machine;
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(0x3000, 0x8070'6050'4030'20ff));
    // pmovzxbw xmm2,[0x3000]; hlt
    ASSERT_EQ(machine.run_code({0x66, 0x0f, 0x38, 0x30, 0x15, 0x00, 0x30, 0x00, 0x00, 0xf4}).kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.xmm(2)[0], 0x0040'0030'0020'00ffu);
    EXPECT_EQ(machine.xmm(2)[1], 0x0080'0070'0060'0050u);
}

TEST(OpsSse4, InsertAndExtract) {
    SseMachine machine;
    machine.state.gpr[x86::rbx] = 0xdead'beef;
    machine.xmm(3)[0] = 0x0000'aa00'0000'0000; // byte 5 = 0xaa
    // pinsrd xmm3,ebx,2; pextrb eax,xmm3,5; hlt
    ASSERT_EQ(machine
                  .run_code({0x66, 0x0f, 0x3a, 0x22, 0xdb, 0x02, 0x66, 0x0f, 0x3a, 0x14, 0xd8, 0x05,
                             0xf4})
                  .kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.xmm(3)[1], 0xdead'beefu);
    EXPECT_EQ(machine.reg(x86::rax), 0xaau);
}

TEST(OpsSse4, SsseThreeIsInvalidOnTheBaselineModel) {
    SseMachine machine(soft::CpuModel::Baseline);
    machine.install_gdt();
    machine.set_idt_gate(6, 0x2000);
    machine.load(0x2000, {0xf4}); // #UD handler: hlt
    ASSERT_EQ(machine.run_code({0x66, 0x0f, 0x38, 0x00, 0xc1, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.state.rip, 0x2001u);
}

TEST(OpsSse4, HaddpsAddsPairs) {
    SseMachine machine;
    const float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40};
    std::memcpy(machine.xmm(0), a, 16);
    std::memcpy(machine.xmm(1), b, 16);
    // haddps xmm0,xmm1; hlt
    ASSERT_EQ(machine.run_code({0xf2, 0x0f, 0x7c, 0xc1, 0xf4}).kind, VcpuExit::Kind::Halted);
    float result[4];
    std::memcpy(result, machine.xmm(0), 16);
    EXPECT_EQ(result[0], 3.0f);
    EXPECT_EQ(result[1], 7.0f);
    EXPECT_EQ(result[2], 30.0f);
    EXPECT_EQ(result[3], 70.0f);
}
