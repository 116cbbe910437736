// CR8 is the local APIC's TPR bits 7:4 (Intel SDM Vol. 3, 10.8.6.1) in xAPIC and in x2APIC
// mode: a `mov cr8` write shows in the TPR register and a TPR write in `mov r, cr8`; a write of
// a reserved bit (63:4) raises #GP.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include "engine/soft/cpu_model.hpp"
#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using namespace Xbyak::util;
using vessel::soft::CpuModel;
using vessel::soft::testing::SoftTestMachine;

namespace {

/// 64-bit mode with the xAPIC page (0xfee00000) mapped by a 2 MiB page beside the RAM.
void long_mode_with_apic_page(SoftTestMachine& machine) {
    machine.enter_long_mode();
    constexpr std::uint64_t apic_directory = SoftTestMachine::long_mode_tables + 0x3000;
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(
        SoftTestMachine::long_mode_tables + 0x1000 + 8 * 3, apic_directory | 0x3));
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(
        apic_directory + 8 * ((0xfee00000u >> 21) & 511), 0xfee00000u | 0x83 | 0x10));
}

// Xbyak has no CR8 operand: the encodings (REX.R with mov to/from CR0).
void mov_cr8_rax(Xbyak::CodeGenerator& c) {
    for (const int byte : {0x44, 0x0f, 0x22, 0xc0})
        c.db(byte);
}
void mov_from_cr8(Xbyak::CodeGenerator& c, int reg) {
    for (const int byte : {0x44, 0x0f, 0x20, 0xc0 | reg})
        c.db(byte);
}

void load_program(SoftTestMachine& machine,
                  const std::function<void(Xbyak::CodeGenerator&)>& body) {
    Xbyak::CodeGenerator code(4096);
    body(code);
    machine.load(SoftTestMachine::code_address,
                 std::vector<std::uint8_t>(code.getCode(), code.getCode() + code.getSize()));
}

} // namespace

TEST(Cr8TaskPriority, Cr8IsTheTprInXapicAndX2apicMode) {
    SoftTestMachine machine;
    machine.soft_vcpu().core().set_cpu_model(CpuModel::V2); // offers x2APIC
    long_mode_with_apic_page(machine);
    load_program(machine, [](Xbyak::CodeGenerator& c) {
        c.mov(edx, 0xfee00080); // the xAPIC TPR register
        c.mov(eax, 5);
        mov_cr8_rax(c);
        c.mov(esi, dword[rdx]); // 0x50
        c.mov(dword[rdx], 0x70);
        mov_from_cr8(c, 7); // rdi = 7
        c.mov(ecx, 0x1b);   // IA32_APIC_BASE: EXTD (x2APIC mode)
        c.rdmsr();
        c.or_(eax, 0x400);
        c.wrmsr();
        c.mov(eax, 9);
        mov_cr8_rax(c);
        c.mov(ecx, 0x808); // the x2APIC TPR MSR
        c.rdmsr();
        c.mov(ebp, eax); // 0x90
        c.mov(eax, 0x30);
        c.xor_(edx, edx);
        c.wrmsr();
        mov_from_cr8(c, 3); // rbx = 3
        c.hlt();
    });
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rsi), 0x50u);
    EXPECT_EQ(machine.reg(x86::rdi), 7u);
    EXPECT_EQ(machine.reg(x86::rbp), 0x90u);
    EXPECT_EQ(machine.reg(x86::rbx), 3u);
}

TEST(Cr8TaskPriority, ReservedBitRaisesGeneralProtection) {
    SoftTestMachine machine;
    long_mode_with_apic_page(machine);
    load_program(machine, [](Xbyak::CodeGenerator& c) {
        c.mov(eax, 0x1f);
        mov_cr8_rax(c);
        c.hlt();
    });
    const VcpuExit exit = machine.run();
    // #GP without an IDT: a triple fault at the mov.
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown) << exit.message;
    EXPECT_EQ(machine.state.rip, SoftTestMachine::code_address + 5);
}
