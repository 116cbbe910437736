// SoftVcpu: protected-mode integer execution, flags, port I/O and exits, driven through Vcpu::run.
#include "engine/soft/soft_vcpu.hpp"

#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

TEST(SoftVcpu, ArithmeticFlags) {
    SoftTestMachine machine;
    // mov eax,-1; add eax,1; setc bl; setz bh; mov ecx,0x7fffffff; inc ecx; seto dl;
    // mov esi,10; sub esi,20; sets dh; hlt
    machine.load(SoftTestMachine::code_address,
                 {0xb8, 0xff, 0xff, 0xff, 0xff, 0x83, 0xc0, 0x01, 0x0f, 0x92, 0xc3, 0x0f,
                  0x94, 0xc7, 0xb9, 0xff, 0xff, 0xff, 0x7f, 0x41, 0x0f, 0x90, 0xc2, 0xbe,
                  0x0a, 0x00, 0x00, 0x00, 0x83, 0xee, 0x14, 0x0f, 0x98, 0xc6, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rax), 0u);
    EXPECT_EQ(machine.reg(x86::rbx) & 0xffff, 0x0101u); // CF and ZF after 0xffffffff + 1
    EXPECT_EQ(machine.reg(x86::rcx), 0x80000000u);
    EXPECT_EQ(machine.reg(x86::rdx) & 0xffff, 0x0101u); // OF after inc, SF after 10 - 20
    EXPECT_EQ(machine.reg(x86::rsi), 0xfffffff6u);
    EXPECT_EQ(machine.state.rip, SoftTestMachine::code_address + 35);
    // Last op (sub 10, 20): CF set, SF set, ZF clear.
    EXPECT_TRUE(machine.state.rflags & x86::rflags::cf);
    EXPECT_TRUE(machine.state.rflags & x86::rflags::sf);
    EXPECT_FALSE(machine.state.rflags & x86::rflags::zf);
}

TEST(SoftVcpu, PortInputAndOutput) {
    SoftTestMachine machine;
    // mov eax,5; add eax,7; out 0xf4,al; mov dx,0xf8; mov eax,0x12345678; out dx,eax; in al,0xf2;
    // hlt
    machine.load(SoftTestMachine::code_address,
                 {0xb8, 0x05, 0x00, 0x00, 0x00, 0x83, 0xc0, 0x07, 0xe6, 0xf4, 0x66, 0xba,
                  0xf8, 0x00, 0xb8, 0x78, 0x56, 0x34, 0x12, 0xef, 0xe4, 0xf2, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    ASSERT_EQ(machine.ports.writes.size(), 2u);
    EXPECT_EQ(machine.ports.writes[0], (std::pair<std::uint64_t, std::uint64_t>{4, 12}));
    EXPECT_EQ(machine.ports.writes[1], (std::pair<std::uint64_t, std::uint64_t>{8, 0x12345678}));
    EXPECT_EQ(machine.reg(x86::rax), 0x1234565au);
}

TEST(SoftVcpu, MultiplyAndDivide) {
    SoftTestMachine machine;
    // mov eax,0x12345678; mov ecx,0x10; mul ecx; mov esi,eax; mov edi,edx; mov eax,100; cdq;
    // mov ecx,7; idiv ecx; mov ebx,-5; imul ebx,ebx,3; hlt
    machine.load(SoftTestMachine::code_address,
                 {0xb8, 0x78, 0x56, 0x34, 0x12, 0xb9, 0x10, 0x00, 0x00, 0x00, 0xf7, 0xe1, 0x89,
                  0xc6, 0x89, 0xd7, 0xb8, 0x64, 0x00, 0x00, 0x00, 0x99, 0xb9, 0x07, 0x00, 0x00,
                  0x00, 0xf7, 0xf9, 0xbb, 0xfb, 0xff, 0xff, 0xff, 0x6b, 0xdb, 0x03, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rsi), 0x23456780u);
    EXPECT_EQ(machine.reg(x86::rdi), 0x1u);
    EXPECT_EQ(machine.reg(x86::rax), 14u);
    EXPECT_EQ(machine.reg(x86::rdx), 2u);
    EXPECT_EQ(machine.reg(x86::rbx), 0xfffffff1u);
}

TEST(SoftVcpu, UnsupportedInstructionReportsBytesAndRip) {
    SoftTestMachine machine;
    // rdpmc (0f 33) is base ISA but not implemented: the engine must stop with the bytes and
    // RIP. (Instructions of extensions the CPUID policy does not advertise are #UD instead.)
    machine.load(SoftTestMachine::code_address, {0x90, 0x0f, 0x33});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Error);
    EXPECT_EQ(exit.rip, SoftTestMachine::code_address + 1);
    EXPECT_NE(exit.message.find("0f 33"), std::string::npos) << exit.message;
    EXPECT_NE(exit.message.find("0x1001"), std::string::npos) << exit.message;
}

TEST(SoftVcpu, KickBeforeRunReturnsKicked) {
    SoftTestMachine machine;
    machine.load(SoftTestMachine::code_address, {0xeb, 0xfe}); // jmp $
    machine.vcpu->kick();
    EXPECT_EQ(machine.run().kind, VcpuExit::Kind::Kicked);
    machine.vcpu->clear_kick();
}

TEST(SoftVcpu, InterruptArrivesInTheWindowAfterTheStiShadow) {
    // sti; nop; cli: the interrupt is recognised after the nop (Intel SDM Vol. 2, STI), not
    // only at the end of the block or batch.
    SoftTestMachine machine;
    machine.install_gdt();
    machine.set_idt_gate(0x50, 0x2000);
    // mov dword [0xfee000f0], 0x1ff (local APIC software enable); hlt; sti; nop; cli; hlt
    machine.load(SoftTestMachine::code_address, {0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01,
                                                 0x00, 0x00, 0xf4, 0xfb, 0x90, 0xfa, 0xf4});
    machine.load(0x2000, {0xbb, 0x34, 0x12, 0x00, 0x00, 0xf4}); // mov ebx, 0x1234; hlt
    ASSERT_EQ(machine.run().kind, VcpuExit::Kind::Halted);
    machine.vm->signal_msi(0xfee00000, 0x50); // fixed, vector 0x50, APIC 0
    ASSERT_EQ(machine.run().kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rbx), 0x1234u);
}
