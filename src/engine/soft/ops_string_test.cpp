// Repeated string compares (repe/repne cmps and scas): the flags they leave when they end, and
// when a fault stops them in a later iteration (EFLAGS as before the instruction, Intel SDM
// Vol. 2B, REP/REPE/REPZ/REPNE/REPNZ). Every test runs on the interpreter and on the translator.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <functional>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint64_t handler_address = 0x3000;
constexpr std::uint64_t unmapped = 0x400000; ///< the first byte past the identity pages
constexpr std::uint64_t arithmetic = x86::rflags::cf | x86::rflags::pf | x86::rflags::af |
                                     x86::rflags::zf | x86::rflags::sf | x86::rflags::of;

/// 64-bit mode with the 4 MiB of RAM identity-mapped and nothing above; #PF goes to a hlt, so
/// a faulting run ends with the fault's frame on the stack.
struct StringMachine : SoftTestMachine {
    explicit StringMachine(SoftTier tier) : SoftTestMachine(tier) {
        install_gdt();
        enter_long_mode();
        set_idt_gate(14, handler_address, true, 0x18);
        load(handler_address, {0xf4}); // hlt
    }

    void assemble(const std::function<void(Xbyak::CodeGenerator&)>& body) {
        Xbyak::CodeGenerator code(4096);
        body(code);
        load(code_address,
             std::vector<std::uint8_t>(code.getCode(), code.getCode() + code.getSize()));
    }

    std::uint64_t frame(unsigned slot) {
        return memory.read<std::uint64_t>(reg(x86::rsp) + 8 * slot).value();
    }
};

/// Runs `machine` to the #PF handler's hlt and checks that the fault's frame names the
/// instruction `offset` bytes into the code.
void expect_fault_at(StringMachine& machine, std::size_t offset) {
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.state.rip, handler_address + 1);
    EXPECT_EQ(machine.frame(1), SoftTestMachine::code_address + offset);
}

const char* name(SoftTier tier) {
    return tier == SoftTier::Interpreter ? "interpreter" : "translator";
}

} // namespace

TEST(OpsString, RepneScasFaultingInALaterIterationLeavesTheFlagsItStartedWith) {
    for (const SoftTier tier : {SoftTier::Interpreter, SoftTier::Translator}) {
        SCOPED_TRACE(name(tier));
        StringMachine machine(tier);
        // Three quadwords (zero, unlike rax) before the unmapped page: the fourth faults.
        std::size_t scas = 0;
        machine.assemble([&](Xbyak::CodeGenerator& c) {
            using namespace Xbyak::util;
            c.mov(rax, 1);
            c.mov(rdi, unmapped - 24);
            c.mov(rcx, 10);
            scas = c.getSize();
            c.repne();
            c.scasq();
            c.hlt();
        });
        machine.state.rflags = x86::rflags::fixed1 | arithmetic; // none of 1 - 0's flags
        expect_fault_at(machine, scas);
        EXPECT_EQ(machine.reg(x86::rcx), 7u);
        EXPECT_EQ(machine.reg(x86::rdi), unmapped);
        EXPECT_EQ(machine.frame(3) & arithmetic, arithmetic);
    }
}

TEST(OpsString, RepeCmpsFaultingInALaterIterationLeavesTheFlagsItStartedWith) {
    for (const SoftTier tier : {SoftTier::Interpreter, SoftTier::Translator}) {
        SCOPED_TRACE(name(tier));
        StringMachine machine(tier);
        // Three equal bytes (zero) before the destination reaches the unmapped page.
        std::size_t cmps = 0;
        machine.assemble([&](Xbyak::CodeGenerator& c) {
            using namespace Xbyak::util;
            c.mov(rsi, 0x300000);
            c.mov(rdi, unmapped - 3);
            c.mov(rcx, 10);
            cmps = c.getSize();
            c.repe();
            c.cmpsb();
            c.hlt();
        });
        machine.state.rflags = x86::rflags::fixed1; // none of 0 - 0's flags (zf, pf)
        expect_fault_at(machine, cmps);
        EXPECT_EQ(machine.reg(x86::rcx), 7u);
        EXPECT_EQ(machine.reg(x86::rsi), 0x300003u);
        EXPECT_EQ(machine.reg(x86::rdi), unmapped);
        EXPECT_EQ(machine.frame(3) & arithmetic, 0u);
    }
}

TEST(OpsString, RepeatedComparesThatEndSetTheLastComparesFlags) {
    for (const SoftTier tier : {SoftTier::Interpreter, SoftTier::Translator}) {
        SCOPED_TRACE(name(tier));
        StringMachine machine(tier);
        ASSERT_TRUE(machine.memory.write<std::uint8_t>(0x200002, 0x80));
        // repne scasq runs out of count (1 - 0 three times); repne scasb stops on the 0x80
        // (al = 0x80); repe cmpsb stops on 0x80 against 0.
        machine.assemble([](Xbyak::CodeGenerator& c) {
            using namespace Xbyak::util;
            c.mov(rax, 1);
            c.mov(rdi, 0x200008);
            c.mov(rcx, 3);
            c.repne();
            c.scasq();
            c.pushfq();
            c.mov(eax, 0x80);
            c.mov(rdi, 0x200000);
            c.mov(rcx, 10);
            c.repne();
            c.scasb();
            c.pushfq();
            c.mov(rsi, 0x200000);
            c.mov(rdi, 0x300000);
            c.mov(rcx, 10);
            c.repe();
            c.cmpsb();
            c.pushfq();
            c.hlt();
        });
        machine.state.rflags = x86::rflags::fixed1 | arithmetic;
        const VcpuExit exit = machine.run();
        ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
        EXPECT_EQ(machine.frame(2) & arithmetic, 0u);                                // 1 - 0
        EXPECT_EQ(machine.frame(1) & arithmetic, x86::rflags::zf | x86::rflags::pf); // 0x80 - 0x80
        EXPECT_EQ(machine.reg(x86::rcx), 7u);
        EXPECT_EQ(machine.reg(x86::rsi), 0x200003u);
        EXPECT_EQ(machine.frame(0) & arithmetic, x86::rflags::sf); // 0x80 - 0
    }
}
