// Machine-check architecture MSRs: IA32_MCG_CAP reports the banks (it raised #GP before), the
// bank registers keep what software may write, and CPUID offers MCE and MCA.
#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

TEST(MachineCheckMsrs, CapabilityBanksAndCpuid) {
    SoftTestMachine machine;
    // mov ecx,0x179; rdmsr; mov esi,eax; mov ecx,0x400; mov eax,-1; mov edx,-1; wrmsr; rdmsr;
    // mov edi,eax; mov eax,1; cpuid; mov ebp,edx; mov ecx,0x401; mov eax,1; xor edx,edx;
    // wrmsr (a status may only be cleared: #GP); hlt
    machine.load(SoftTestMachine::code_address,
                 {0xb9, 0x79, 0x01, 0x00, 0x00, 0x0f, 0x32, 0x89, 0xc6, 0xb9, 0x00,
                  0x04, 0x00, 0x00, 0xb8, 0xff, 0xff, 0xff, 0xff, 0xba, 0xff, 0xff,
                  0xff, 0xff, 0x0f, 0x30, 0x0f, 0x32, 0x89, 0xc7, 0xb8, 0x01, 0x00,
                  0x00, 0x00, 0x0f, 0xa2, 0x89, 0xd5, 0xb9, 0x01, 0x04, 0x00, 0x00,
                  0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0xf4});
    const VcpuExit exit = machine.run();
    EXPECT_EQ(machine.reg(x86::rsi), 10u | (1u << 8)); // 10 banks, MCG_CTL present
    EXPECT_EQ(machine.reg(x86::rdi), 0xffff'ffffu);    // MC0_CTL keeps all ones
    EXPECT_TRUE(machine.reg(x86::rbp) & (1u << 7)) << "CPUID.1:EDX.MCE";
    EXPECT_TRUE(machine.reg(x86::rbp) & (1u << 14)) << "CPUID.1:EDX.MCA";
    // The non-zero status write raised #GP; without an IDT that is a triple fault at the wrmsr.
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown);
    EXPECT_EQ(machine.state.rip, SoftTestMachine::code_address + 51);
}
