// The software CPU declares itself immune to transient-execution attacks and offers the MSRs a
// kernel touches while deciding its mitigations (a Linux boot logged "unchecked MSR access" for
// IA32_BIOS_SIGN_ID and enabled page-table isolation without them).
#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

TEST(SpeculationMsrs, ArchCapabilitiesMicrocodeRevisionAndCpuidAgree) {
    SoftTestMachine machine;
    machine.enter_long_mode();
    // mov ecx,0x10a; rdmsr; mov r8,rax; mov r9,rdx; mov ecx,0x8b; xor eax,eax; xor edx,edx;
    // wrmsr; rdmsr; mov r10,rdx; mov eax,7; xor ecx,ecx; cpuid; mov r11,rdx; hlt
    machine.load(SoftTestMachine::code_address,
                 {0xb9, 0x0a, 0x01, 0x00, 0x00, 0x0f, 0x32, 0x49, 0x89, 0xc0, 0x49,
                  0x89, 0xd1, 0xb9, 0x8b, 0x00, 0x00, 0x00, 0x31, 0xc0, 0x31, 0xd2,
                  0x0f, 0x30, 0x0f, 0x32, 0x49, 0x89, 0xd2, 0xb8, 0x07, 0x00, 0x00,
                  0x00, 0x31, 0xc9, 0x0f, 0xa2, 0x49, 0x89, 0xd3, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    const std::uint64_t low = machine.reg(8), high = machine.reg(9);
    EXPECT_TRUE(low & (1u << 0)) << "RDCL_NO: no Meltdown, so no page-table isolation";
    EXPECT_TRUE(low & (1u << 1)) << "IBRS_ALL: enhanced IBRS, so no retpolines";
    EXPECT_TRUE(low & (1u << 5)) << "MDS_NO: no verw on every return to user mode";
    EXPECT_TRUE(high & (1u << 30)) << "ITS_NO (bit 62)";
    EXPECT_EQ(machine.reg(10), 1u) << "microcode revision in IA32_BIOS_SIGN_ID[63:32]";
    const std::uint64_t leaf7_edx = machine.reg(11);
    EXPECT_TRUE(leaf7_edx & (1u << 26)) << "IA32_SPEC_CTRL offered";
    EXPECT_TRUE(leaf7_edx & (1u << 29)) << "IA32_ARCH_CAPABILITIES offered";
}

TEST(SpeculationMsrs, SpecCtrlKeepsItsBitsAndRefusesReservedOnes) {
    SoftTestMachine machine;
    machine.enter_long_mode();
    // mov ecx,0x48; mov eax,0x405; xor edx,edx; wrmsr; xor eax,eax; rdmsr; mov r8,rax;
    // mov eax,0x8; wrmsr (reserved bit 3: #GP); hlt
    machine.load(SoftTestMachine::code_address,
                 {0xb9, 0x48, 0x00, 0x00, 0x00, 0xb8, 0x05, 0x04, 0x00, 0x00,
                  0x31, 0xd2, 0x0f, 0x30, 0x31, 0xc0, 0x0f, 0x32, 0x49, 0x89,
                  0xc0, 0xb8, 0x08, 0x00, 0x00, 0x00, 0x0f, 0x30, 0xf4});
    const VcpuExit exit = machine.run();
    EXPECT_EQ(machine.reg(8), 0x405u); // IBRS, SSBD, BHI_DIS_S
    // The reserved write raised #GP; without an IDT that is a triple fault at the wrmsr.
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown);
    EXPECT_EQ(machine.state.rip, SoftTestMachine::code_address + 26);
}
