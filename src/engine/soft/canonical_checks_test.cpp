// A 64-bit CPU refuses non-canonical bases and MSR values with #GP where hardware does: the
// CSTAR MSR (as LSTAR), and the bases lgdt/lidt load in 64-bit mode (a strict guest observed
// Vessel accepting both).
#include <gtest/gtest.h>

#include "arch/x86/canonical.hpp"
#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

TEST(Canonical, SignExtensionOfBit47) {
    EXPECT_TRUE(x86::is_canonical(0x0000'7fff'ffff'ffff));
    EXPECT_TRUE(x86::is_canonical(0xffff'8000'0000'0000));
    EXPECT_FALSE(x86::is_canonical(0x0000'8000'0000'0000));
    EXPECT_FALSE(x86::is_canonical(0xfffe'7fff'ffff'ffff));
}

TEST(Canonical, CstarKeepsACanonicalTargetAndRefusesOthers) {
    SoftTestMachine machine;
    machine.enter_long_mode();
    // mov ecx,0xc0000083; mov eax,0x1000; mov edx,0xffff8000; wrmsr; xor eax,eax; xor edx,edx;
    // rdmsr; mov r8,rax; mov r9,rdx; mov edx,0x8000; wrmsr (non-canonical: #GP); hlt
    machine.load(SoftTestMachine::code_address,
                 {0xb9, 0x83, 0x00, 0x00, 0xc0, 0xb8, 0x00, 0x10, 0x00, 0x00, 0xba, 0x00, 0x80,
                  0xff, 0xff, 0x0f, 0x30, 0x31, 0xc0, 0x31, 0xd2, 0x0f, 0x32, 0x49, 0x89, 0xc0,
                  0x49, 0x89, 0xd1, 0xba, 0x00, 0x80, 0x00, 0x00, 0x0f, 0x30, 0xf4});
    const VcpuExit exit = machine.run();
    EXPECT_EQ(machine.reg(8), 0x1000u);
    EXPECT_EQ(machine.reg(9), 0xffff'8000u);
    // The refused write raised #GP; without an IDT that is a triple fault at the wrmsr.
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown);
    EXPECT_EQ(machine.state.rip, SoftTestMachine::code_address + 34);
}

TEST(Canonical, LgdtIn64BitModeRefusesANonCanonicalBase) {
    SoftTestMachine machine;
    machine.enter_long_mode();
    // Pseudo-descriptors: limit 0x7f, then base (canonical at 0x3010, non-canonical at 0x3000).
    machine.load(0x3000, {0x7f, 0x00, 0, 0, 0, 0, 0, 0x80, 0, 0});
    machine.load(0x3010, {0x7f, 0x00, 0x00, 0x10, 0, 0, 0x00, 0x80, 0xff, 0xff});
    // lgdt [0x3010]; lgdt [0x3000] (#GP); hlt
    machine.load(SoftTestMachine::code_address,
                 {0x0f, 0x01, 0x14, 0x25, 0x10, 0x30, 0x00, 0x00, 0x0f, 0x01, 0x14, 0x25, 0x00,
                  0x30, 0x00, 0x00, 0xf4});
    const VcpuExit exit = machine.run();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown);
    EXPECT_EQ(machine.state.rip, SoftTestMachine::code_address + 8);
    EXPECT_EQ(machine.state.gdt.base, 0xffff'8000'0000'1000u) << "the first, canonical base stays";
    EXPECT_EQ(machine.state.gdt.limit, 0x7fu);
}
