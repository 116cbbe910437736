// Return frames (JitContext::entry_rsp): a translated call pushes the guest's return address
// and calls on the host, so the matching ret returns as the host predicts. Recursion deeper than
// the frames, return addresses the guest rewrites, and calls whose frames are never popped must
// all end as on the interpreter.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include "engine/soft/translator/translator_test_machine.hpp"

using namespace vessel;
using namespace vessel::soft::translator_testing;
using namespace Xbyak::util;

namespace {

constexpr std::uint64_t stack_top = 0x1f0000; // identity-mapped 4 KiB pages below

} // namespace

TEST(ReturnFrames, RecursionDeeperThanTheFramesReturnsThroughEveryLevel) {
    static_assert(soft::JitContext::return_frames < 1000, "deeper than the frames");
    auto machine = run_on_both([](Machine& m) {
        m.state.gpr[x86::rsp] = stack_top;
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label round, sum, out;
            c.xor_(eax, eax);
            c.mov(ebx, 20);
            c.L(round);
            c.mov(ecx, 1000);
            c.call(sum);
            c.dec(ebx);
            c.jnz(round);
            c.hlt();
            c.L(sum); // rax += rcx + (rcx - 1) + ... + 1, one level per step
            c.test(ecx, ecx);
            c.jz(out);
            c.add(rax, rcx);
            c.dec(ecx);
            c.call(sum);
            c.L(out);
            c.ret();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rax), 20u * 500500u);
    EXPECT_EQ(machine->reg(x86::rsp), stack_top);
    EXPECT_GT(machine->stats().translated_dispatches, 0u);
}

TEST(ReturnFrames, AReturnAddressRewrittenOnTheStackIsWhereRetGoes) {
    // The callee replaces its return address: the frame's address no longer matches, and the
    // ret must go where the stack says (ret 8 also drops an argument pushed before the call).
    auto machine = run_on_both([](Machine& m) {
        m.state.gpr[x86::rsp] = stack_top;
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label round, callee, elsewhere, next;
            c.mov(ebx, 300);
            c.L(round);
            c.push(rbx);
            c.call(callee);
            c.add(rdx, 1); // the original return address: never reached
            c.jmp(next);
            c.L(elsewhere);
            c.add(rsi, 1);
            c.L(next);
            c.dec(ebx);
            c.jnz(round);
            c.hlt();
            c.L(callee);
            c.lea(r8, ptr[rip + elsewhere]);
            c.mov(qword[rsp], r8);
            c.ret(8);
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rsi), 300u);
    EXPECT_EQ(machine->reg(x86::rdx), 0u);
    EXPECT_EQ(machine->reg(x86::rsp), stack_top);
}

TEST(ReturnFrames, FramesOfCallsThatNeverReturnLeaveLaterReturnsExact) {
    // Each round's first call never returns (its callee drops the return address and jumps
    // back): its frames pile up past the limit. The second call's ret must still return to
    // its own call, and flags set in the callee must reach the caller.
    auto machine = run_on_both([](Machine& m) {
        m.state.gpr[x86::rsp] = stack_top;
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label round, leave, back, returns;
            c.mov(ebx, 600);
            c.L(round);
            c.call(leave);
            c.L(back);
            c.call(returns);
            c.adc(rsi, 0); // CF from the callee's compare
            c.dec(ebx);
            c.jnz(round);
            c.hlt();
            c.L(leave);
            c.add(rsp, 8);
            c.inc(rdx);
            c.jmp(back);
            c.L(returns);
            c.cmp(ebx, 100); // CF while rbx < 100
            c.ret();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rdx), 600u);
    EXPECT_EQ(machine->reg(x86::rsi), 99u);
    EXPECT_EQ(machine->reg(x86::rsp), stack_top);
}

TEST(ReturnFrames, FlagsACalleeLeavesReachCodeAfterTheCallThatReadsThem) {
    // A matched ret leaves the guest's flags in the slot; the return point puts them back in
    // place only when the code after the call reads them. Here it does (adc reads the carry
    // the callee's compare set, after the callee's stack reads clobbered the host's flags);
    // the second call's return address code (an add) does not.
    auto machine = run_on_both([](Machine& m) {
        m.state.gpr[x86::rsp] = stack_top;
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label round, below, plain;
            c.xor_(eax, eax);
            c.xor_(esi, esi);
            c.mov(ebx, 3000);
            c.L(round);
            c.push(rbx);
            c.call(below); // CF = (rbx & 3) < 2
            c.adc(rax, 0);
            c.pop(rdx);
            c.call(plain);
            c.add(rsi, 1);
            c.dec(ebx);
            c.jnz(round);
            c.hlt();
            c.L(below);
            c.mov(rdx, qword[rsp + 8]); // the pushed rbx
            c.and_(edx, 3);
            c.cmp(edx, 2);
            c.mov(rcx, qword[rsp]); // a stack read between the compare and the ret
            c.ret();
            c.L(plain);
            c.cmp(rsi, 100000); // flags nobody reads
            c.ret();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rax), 1500u);
    EXPECT_EQ(machine->reg(x86::rsi), 3000u);
    EXPECT_EQ(machine->reg(x86::rsp), stack_top);
    EXPECT_GT(machine->stats().translated_dispatches, 0u);
}

TEST(ReturnFrames, ACalleeThatReadsTheCallersCarryGetsIt) {
    // Flags are live at a call only when its callee (in the call's page) may read them before
    // it writes them: `carry` reads the add's CF first thing (adc), so the call keeps it across
    // its return-address store; `plain` overwrites every flag first, so that call keeps none.
    auto machine = run_on_both([](Machine& m) {
        m.state.gpr[x86::rsp] = stack_top;
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label round, carry, plain;
            c.xor_(r8d, r8d);
            c.xor_(esi, esi);
            c.mov(ecx, 3000);
            c.L(round);
            c.mov(rax, rcx);
            c.shl(rax, 63);
            c.add(rax, rax); // CF = bit 0 of the round
            c.call(carry);
            c.add(rax, rax);
            c.call(plain);
            c.dec(ecx);
            c.jnz(round);
            c.hlt();
            c.L(carry);
            c.adc(r8, 0); // counts the odd rounds
            c.ret();
            c.L(plain);
            c.cmp(rsi, 100000);
            c.adc(rsi, 1);
            c.ret();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(8), 1500u);
    EXPECT_EQ(machine->reg(x86::rsi), 6000u);
    EXPECT_EQ(machine->reg(x86::rsp), stack_top);
    EXPECT_GT(machine->stats().translated_dispatches, 0u);
}
