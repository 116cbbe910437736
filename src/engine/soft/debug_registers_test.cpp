// mov to and from the debug registers as the Intel SDM (Vol. 3, 18.2) has them: DR6 and DR7 keep
// their fixed bits whatever is written, DR4/DR5 alias DR6/DR7 while CR4.DE is clear and #UD once
// it is set, and DR6/DR7 refuse upper-half bits in 64-bit mode (a strict guest saw DR6 read 0
// and DR4 accepted with CR4.DE set).
#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

TEST(DebugRegisters, FixedBitsAndTheDr4Dr5Aliases) {
    SoftTestMachine machine;
    machine.enter_long_mode();
    // xor eax,eax; mov dr6,rax; mov dr7,rax; mov rax,dr6; mov r8,rax; mov rax,dr7; mov r9,rax;
    // mov eax,0x4001; mov dr5,rax; mov dr4,rax; mov rax,dr4; mov r10,rax; mov rax,dr5;
    // mov r11,rax; hlt
    machine.load(SoftTestMachine::code_address,
                 {0x31, 0xc0, 0x0f, 0x23, 0xf0, 0x0f, 0x23, 0xf8, 0x0f, 0x21, 0xf0,
                  0x49, 0x89, 0xc0, 0x0f, 0x21, 0xf8, 0x49, 0x89, 0xc1, 0xb8, 0x01,
                  0x40, 0x00, 0x00, 0x0f, 0x23, 0xe8, 0x0f, 0x23, 0xe0, 0x0f, 0x21,
                  0xe0, 0x49, 0x89, 0xc2, 0x0f, 0x21, 0xe8, 0x49, 0x89, 0xc3, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(8), 0xffff'0ff0u) << "DR6 after writing 0: its fixed-1 bits";
    EXPECT_EQ(machine.reg(9), 0x400u) << "DR7 after writing 0: bit 10";
    EXPECT_EQ(machine.reg(10), 0xffff'4ff1u) << "DR4 is DR6: B0 and BS kept";
    EXPECT_EQ(machine.reg(11), 0x401u) << "DR5 is DR7: L0 kept, reserved bit 14 dropped";
}

TEST(DebugRegisters, Dr4IsUndefinedWithDebuggingExtensions) {
    SoftTestMachine machine;
    machine.enter_long_mode();
    // mov rax,cr4; or eax,8 (CR4.DE); mov cr4,rax; mov rax,dr4 (#UD); hlt
    machine.load(SoftTestMachine::code_address,
                 {0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x08, 0x0f, 0x22, 0xe0, 0x0f, 0x21, 0xe0, 0xf4});
    const VcpuExit exit = machine.run();
    // Without an IDT the #UD is a triple fault at the mov.
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown);
    EXPECT_EQ(machine.state.rip, SoftTestMachine::code_address + 9);
}

TEST(DebugRegisters, Dr6RefusesUpperHalfBitsIn64BitMode) {
    SoftTestMachine machine;
    machine.enter_long_mode();
    // mov rax,0x100000000; mov dr6,rax (#GP); hlt
    machine.load(SoftTestMachine::code_address, {0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
                                                 0x00, 0x00, 0x0f, 0x23, 0xf0, 0xf4});
    const VcpuExit exit = machine.run();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown);
    EXPECT_EQ(machine.state.rip, SoftTestMachine::code_address + 10);
}
