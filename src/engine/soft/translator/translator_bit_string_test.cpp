// Translator: bt/bts/btr/btc on memory with the bit offset in a register (emit_bit_string.cpp)
// against the interpreter: offsets below, inside and beyond the operand, every operand size,
// lock prefixes, offsets in registers the translator keeps in memory, ZF kept, and a #PF on the
// unit the offset reaches.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include "engine/soft/translator/translator_test_machine.hpp"

using namespace vessel;
using namespace vessel::soft::translator_testing;
using namespace Xbyak::util;

namespace {

constexpr std::uint64_t bit_string = 0x100100; ///< a 64-byte bit string 256 bytes into a data page

std::uint32_t interpreted(Machine& machine, ZydisMnemonic mnemonic) {
    return machine.soft_vcpu().core().jit.interpreted_by_mnemonic[mnemonic];
}

} // namespace

TEST(Translator, BitStringOperationsWithRegisterOffsetsMatchTheInterpreter) {
    auto machine = run_on_both([](Machine& m) {
        for (std::uint64_t i = 0; i < 128; i += 8)
            ASSERT_TRUE(m.memory.write(bit_string - 64 + i, 0x0123456789abcdefull * (i + 1)));
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 40);
            c.mov(rdi, bit_string);
            c.xor_(ebx, ebx);
            c.xor_(r9d, r9d);
            c.L(loop);
            // Offsets from the counter: -280..+270 bits around rdi, so units below and above.
            c.imul(rax, rcx, 13);
            c.sub(rax, 250);
            c.mov(r13, rax); // kept in CpuCore by the translator
            c.lea(r14, ptr[rax + 77]);
            c.bt(qword[rdi], rax);
            c.adc(rbx, rbx); // CF into rbx
            c.bts(qword[rdi + 8], r13);
            c.adc(rbx, rbx);
            c.btr(dword[rdi - 4], eax);
            c.adc(rbx, rbx);
            c.btc(word[rdi + 2], ax);
            c.adc(rbx, rbx);
            c.lock();
            c.bts(dword[rdi], r14d);
            c.adc(rbx, rbx);
            c.lock();
            c.btr(qword[rdi + rcx * 8 - 64], r14);
            c.adc(rbx, rbx);
            c.lock();
            c.btc(word[rdi], r13w);
            c.adc(rbx, rbx);
            // ZF survives bt (Intel SDM Vol. 2, BT): set it, test a bit, read it.
            c.cmp(ecx, 7);
            c.bt(qword[rdi + 16], r13);
            c.setz(r8b);
            c.add(r9, r8);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(9), 1u); // ecx was 7 once
    // Hot: after the first runs, none of them went through the interpreter.
    Machine& m = *machine;
    EXPECT_LE(interpreted(m, ZYDIS_MNEMONIC_BT), 4u);
    EXPECT_LE(interpreted(m, ZYDIS_MNEMONIC_BTS), 4u);
    EXPECT_LE(interpreted(m, ZYDIS_MNEMONIC_BTR), 4u);
    EXPECT_LE(interpreted(m, ZYDIS_MNEMONIC_BTC), 4u);
}

TEST(Translator, BitStringOffsetReachingAnUnmappedPageFaultsPrecisely) {
    auto machine = run_on_both([](Machine& m) {
        m.unmap(0x102000);
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 30);
            c.mov(rdi, 0x101ff8);
            c.xor_(ebx, ebx);
            c.L(loop);
            c.xor_(eax, eax);
            c.mov(edx, 64 * 8 + 3); // on the last round: bit 3 of the qword at 0x101ff8 + 0x40
            c.cmp(ecx, 1);
            c.cmove(eax, edx);
            c.stc();
            c.bts(qword[rdi], rax); // translated by then: the #PF comes from its miss path
            c.setz(dl); // ZF read after bts keeps the flags live, so a fault sees them exactly
            c.adc(ebx, 0);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->state.cr2, 0x102038u);
    EXPECT_EQ(machine->reg(x86::rcx), 1u);
    EXPECT_EQ(machine->reg(x86::rbx), 28u); // bit 0 was set from the second round on
}
