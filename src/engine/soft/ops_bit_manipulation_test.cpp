// Bit-manipulation handlers: popcnt, lzcnt/tzcnt (and their bsr/bsf meaning on a model without
// them), movbe, BMI1 and BMI2, against values worked out by hand from the SDM's definitions.
#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint64_t cf = x86::rflags::cf, zf = x86::rflags::zf;
constexpr std::uint64_t arithmetic = 0x8d5;

struct BitMachine : SoftTestMachine {
    explicit BitMachine(soft::CpuModel model = soft::CpuModel::Max) {
        soft_vcpu().core().set_cpu_model(model);
    }
    VcpuExit run_code(std::initializer_list<std::uint8_t> code) {
        load(code_address, code);
        EXPECT_TRUE(vcpu->set_state(state));
        const VcpuExit exit = vcpu->run();
        state = vcpu->state().value();
        return exit;
    }
};

} // namespace

TEST(OpsBitManipulation, PopcntCountsAndSetsOnlyZfForZero) {
    BitMachine machine;
    machine.state.gpr[x86::rbx] = 0xf0f0'0001;
    machine.state.rflags |= arithmetic; // popcnt clears every flag but ZF
    // popcnt eax,ebx; hlt
    ASSERT_EQ(machine.run_code({0xf3, 0x0f, 0xb8, 0xc3, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rax), 9u);
    EXPECT_EQ(machine.state.rflags & arithmetic, 0u);

    BitMachine zero;
    zero.state.gpr[x86::rbx] = 0;
    ASSERT_EQ(zero.run_code({0xf3, 0x0f, 0xb8, 0xc3, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(zero.reg(x86::rax), 0u);
    EXPECT_EQ(zero.state.rflags & arithmetic, zf);
}

TEST(OpsBitManipulation, LzcntAndTzcntOfZeroGiveTheOperandSizeAndCf) {
    BitMachine machine;
    machine.state.gpr[x86::rbx] = 0;
    // lzcnt ecx,ebx; tzcnt edx,ebx; hlt
    ASSERT_EQ(machine.run_code({0xf3, 0x0f, 0xbd, 0xcb, 0xf3, 0x0f, 0xbc, 0xd3, 0xf4}).kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rcx), 32u);
    EXPECT_EQ(machine.reg(x86::rdx), 32u);
    EXPECT_EQ(machine.state.rflags & (cf | zf), cf);
}

TEST(OpsBitManipulation, LzcntCountsLeadingZeros) {
    BitMachine machine;
    machine.state.gpr[x86::rbx] = 0x0000'8000;
    // lzcnt ecx,ebx; hlt
    ASSERT_EQ(machine.run_code({0xf3, 0x0f, 0xbd, 0xcb, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rcx), 16u);
    EXPECT_EQ(machine.state.rflags & (cf | zf), 0u);
}

TEST(OpsBitManipulation, WithoutLzcntTheEncodingIsBsr) {
    BitMachine machine(soft::CpuModel::Baseline);
    machine.state.gpr[x86::rbx] = 0x0000'8000;
    machine.state.gpr[x86::rcx] = 0;
    // lzcnt ecx,ebx (= rep bsr); hlt
    ASSERT_EQ(machine.run_code({0xf3, 0x0f, 0xbd, 0xcb, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rcx), 15u); // the bit index, not the count
}

TEST(OpsBitManipulation, PopcntIsInvalidOnTheBaselineModel) {
    BitMachine machine(soft::CpuModel::Baseline);
    machine.install_gdt();
    machine.set_idt_gate(6, 0x2000);
    machine.load(0x2000, {0xf4}); // #UD handler: hlt
    ASSERT_EQ(machine.run_code({0xf3, 0x0f, 0xb8, 0xc3, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.state.rip, 0x2001u);
}

TEST(OpsBitManipulation, Bmi1) {
    BitMachine machine;
    machine.state.gpr[x86::rbx] = 0x1234'5678;
    machine.state.gpr[x86::rcx] = 0x0000'0804; // bextr: start 4, length 8
    // andn eax,ebx,ecx; mov esi,eax; bextr eax,ebx,ecx; mov edi,eax; blsr eax,ebx; hlt
    ASSERT_EQ(machine
                  .run_code({0xc4, 0xe2, 0x60, 0xf2, 0xc1, 0x89, 0xc6, 0xc4, 0xe2, 0x70,
                             0xf7, 0xc3, 0x89, 0xc7, 0xc4, 0xe2, 0x78, 0xf3, 0xcb, 0xf4})
                  .kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rsi), ~0x1234'5678u & 0x804u);
    EXPECT_EQ(machine.reg(x86::rdi), 0x67u);
    EXPECT_EQ(machine.reg(x86::rax), 0x1234'5670u);
    EXPECT_EQ(machine.state.rflags & (cf | zf), 0u);
}

TEST(OpsBitManipulation, Bmi2) {
    BitMachine machine;
    machine.state.gpr[x86::rbx] = 0x8000'00f5;
    machine.state.gpr[x86::rcx] = 0x0000'ff00;
    machine.state.gpr[x86::rdx] = 0x1'0001;
    // pdep eax,ebx,ecx; mov esi,eax; pext eax,ebx,ecx; mov ebp,eax; rorx eax,ebx,8; hlt
    ASSERT_EQ(machine
                  .run_code({0xc4, 0xe2, 0x63, 0xf5, 0xc1, 0x89, 0xc6, 0xc4, 0xe2, 0x62, 0xf5,
                             0xc1, 0x89, 0xc5, 0xc4, 0xe3, 0x7b, 0xf0, 0xc3, 0x08, 0xf4})
                  .kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rsi), 0xf500u);
    EXPECT_EQ(machine.reg(x86::rbp), 0x00u);
    EXPECT_EQ(machine.reg(x86::rax), 0xf580'0000u);

    BitMachine shifts;
    shifts.state.gpr[x86::rbx] = 0x8000'0000;
    shifts.state.gpr[x86::rcx] = 0x24; // counts are masked to 5 bits: 4
    shifts.state.gpr[x86::rdx] = 0xffff'ffff;
    // sarx eax,ebx,ecx; mulx edi,esi,ecx (edx * ecx); hlt
    ASSERT_EQ(
        shifts.run_code({0xc4, 0xe2, 0x72, 0xf7, 0xc3, 0xc4, 0xe2, 0x4b, 0xf6, 0xf9, 0xf4}).kind,
        VcpuExit::Kind::Halted);
    EXPECT_EQ(shifts.reg(x86::rax), 0xf800'0000u);
    EXPECT_EQ(shifts.reg(x86::rsi), 0xffff'ffdcu); // low half of 0x24 * 0xffffffff
    EXPECT_EQ(shifts.reg(x86::rdi), 0x23u);
}

TEST(OpsBitManipulation, BzhiSetsCfForAnIndexPastTheOperand) {
    BitMachine machine;
    machine.state.gpr[x86::rbx] = 0xffff'ffff;
    machine.state.gpr[x86::rcx] = 40;
    // bzhi eax,ebx,ecx; hlt
    ASSERT_EQ(machine.run_code({0xc4, 0xe2, 0x70, 0xf5, 0xc3, 0xf4}).kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rax), 0xffff'ffffu);
    EXPECT_EQ(machine.state.rflags & cf, cf);
}

TEST(OpsBitManipulation, MovbeSwapsBytesBothWays) {
    BitMachine machine;
    ASSERT_TRUE(machine.memory.write<std::uint32_t>(0x3000, 0x1122'3344));
    machine.state.gpr[x86::rbx] = 0xaabb'ccdd;
    // movbe eax,[0x3000]; movbe [0x3004],ebx; hlt
    ASSERT_EQ(machine
                  .run_code({0x0f, 0x38, 0xf0, 0x05, 0x00, 0x30, 0x00, 0x00, 0x0f, 0x38, 0xf1, 0x1d,
                             0x04, 0x30, 0x00, 0x00, 0xf4})
                  .kind,
              VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rax), 0x4433'2211u);
    EXPECT_EQ(machine.memory.read<std::uint32_t>(0x3004).value(), 0xddcc'bbaau);
}
