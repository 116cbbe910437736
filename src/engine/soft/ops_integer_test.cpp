// Integer handlers: corner cases the differential test (tools/difftest) found against the host.
#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

TEST(OpsInteger, ThirtyTwoBitShiftsByZeroStillClearTheUpperHalf) {
    SoftTestMachine machine;
    machine.enter_long_mode();
    // mov rax,imm64; shl eax,0; mov rbx,rax... (rbx, rdx, rsi preloaded); xor ecx,ecx;
    // rol ebx,cl; shld edx,esi,0; rcr esi,0; hlt
    machine.state.gpr[x86::rax] = machine.state.gpr[x86::rbx] = machine.state.gpr[x86::rdx] =
        machine.state.gpr[x86::rsi] = 0x1122334455667788;
    machine.load(SoftTestMachine::code_address, {0xc1, 0xe0, 0x00, 0x31, 0xc9, 0xd3, 0xc3, 0x0f,
                                                 0xa4, 0xf2, 0x00, 0xc1, 0xde, 0x00, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rax), 0x55667788u);
    EXPECT_EQ(machine.reg(x86::rbx), 0x55667788u);
    EXPECT_EQ(machine.reg(x86::rdx), 0x55667788u);
    EXPECT_EQ(machine.reg(x86::rsi), 0x55667788u);
}

TEST(OpsInteger, XaddOfARegisterWithItselfLeavesTheSum) {
    SoftTestMachine machine;
    // mov eax,5; xadd eax,eax; mov bl,0x70; xadd bl,bl; hlt
    machine.load(SoftTestMachine::code_address, {0xb8, 0x05, 0x00, 0x00, 0x00, 0x0f, 0xc1, 0xc0,
                                                 0xb3, 0x70, 0x0f, 0xc0, 0xdb, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rax), 10u);
    EXPECT_EQ(machine.reg(x86::rbx) & 0xff, 0xe0u);
    EXPECT_TRUE(machine.state.rflags & x86::rflags::of); // 0x70 + 0x70 overflows a signed byte
}
