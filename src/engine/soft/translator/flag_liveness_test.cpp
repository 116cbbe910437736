// Flag liveness: flags a lookup clobbers are saved only while some reader may still come, in
// the block or in the block after it (flags_read_on_entry), and must reach that reader exactly.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <functional>

#include "engine/soft/translator/block_analysis.hpp"
#include "engine/soft/translator/translator_test_machine.hpp"

using namespace vessel;
using namespace vessel::soft::translator_testing;
using namespace Xbyak::util;

namespace {

/// A loop whose add leaves CF = bit 0 of the round, then a lookup, then `between` (which keeps
/// CF), then an adc that counts the odd rounds in r8.
std::unique_ptr<Machine>
count_odd_rounds_with_a_carry(const std::function<void(Xbyak::CodeGenerator&)>& between) {
    return run_on_both([&between](Machine& m) {
        m.assemble(SoftTestMachine::code_address, [&between](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 1000);
            c.mov(rsi, 0x100000);
            c.xor_(r8d, r8d);
            c.L(loop);
            c.mov(rax, rcx);
            c.shl(rax, 63);  // bit 0 of the round to the top
            c.add(rax, rax); // CF = that bit
            c.mov(rdx, qword[rsi + rcx * 8]);
            between(c);
            c.adc(r8, 0);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
}

} // namespace

TEST(Translator, ACarryAloneLiveAcrossALookupReachesItsReader) {
    // Between the add and the adc only CF is live (inc writes every other flag): the lookup
    // saves just the carry, and the adc must see it set on the odd rounds, clear on the even.
    auto machine = count_odd_rounds_with_a_carry([](Xbyak::CodeGenerator& c) { c.inc(r9); });
    EXPECT_EQ(machine->reg(8), 500u);
    EXPECT_GE(machine->stats().native_ops, 8u); // the loop's body, translated
}

TEST(Translator, ACarryTheNextBlockReadsSurvivesTheLookupsAfterItsWriter) {
    // The add's carry crosses a lookup and a jump: the block after the jump reads it first
    // thing (adc), so it is live at the first block's end; the other flags are not (the adc
    // writes them), and the block after the loop writes them all before it reads any.
    auto machine = count_odd_rounds_with_a_carry([](Xbyak::CodeGenerator& c) {
        Xbyak::Label carry;
        c.jmp(carry);
        c.L(carry);
    });
    EXPECT_EQ(machine->reg(8), 500u);
    EXPECT_GE(machine->stats().native_ops, 8u);
}

TEST(BlockAnalysis, FlagsReadOnEntryStopAtTheFirstWriterOfAllAndAtBranches) {
    ZydisDecoder decoder;
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    const auto read = [&decoder](const std::function<void(Xbyak::CodeGenerator&)>& emit) {
        Xbyak::CodeGenerator c;
        emit(c);
        return soft::flags_read_on_entry(decoder, c.getCode(), c.getSize());
    };
    using namespace x86::rflags;
    EXPECT_EQ(read([](auto& c) {
                  Xbyak::Label next;
                  c.mov(rax, rbx);
                  c.cmp(rax, 3);
                  c.jne(next);
                  c.L(next);
              }),
              0u);
    EXPECT_EQ(read([](auto& c) {
                  c.inc(rax);
                  c.sub(rax, rbx);
              }),
              0u);
    EXPECT_EQ(read([](auto& c) {
                  c.inc(rax);
                  c.adc(rax, rbx);
              }),
              cf); // inc keeps CF
    EXPECT_EQ(read([](auto& c) {
                  c.adc(rax, 0);
                  c.test(eax, eax);
              }),
              cf);
    // A shift by cl may write nothing: the flags go on to the add.
    EXPECT_EQ(read([](auto& c) {
                  c.shl(rax, cl);
                  c.add(rax, rax);
              }),
              0u);
    // A branch first: what it tests, and every flag its targets may read.
    EXPECT_EQ(read([](auto& c) {
                  Xbyak::Label next;
                  c.jz(next);
                  c.L(next);
                  c.cmp(rax, rbx);
              }),
              soft::arithmetic_mask);
    // Bytes that end before a writer of all: every flag.
    EXPECT_EQ(read([](auto& c) { c.mov(rax, rbx); }), soft::arithmetic_mask);
}
