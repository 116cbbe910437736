// Translator: instructions that run as themselves (extensions under the CPU model, AVX/AVX2 with
// their upper halves) or through small emitters (pushfq, cli, leave, fnstcw, mov from a segment
// register, cmpxchg16b), each against the interpreter or known results, with the exceptions the
// guest must still see (#NM under CR0.TS, #GP for a misaligned operand, #PF mid-instruction).
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include "engine/soft/translator/translator_test_machine.hpp"

using namespace vessel;
using namespace vessel::soft::translator_testing;
using namespace Xbyak::util;

TEST(Translator, TzcntAndLzcntFollowTheCpuModel) {
    // f3 0f bc / bd are tzcnt/lzcnt with BMI1/LZCNT in the model, bsf/bsr without: on a zero
    // source the first give the operand width and CF, the second keep the destination and ZF.
    for (const soft::CpuModel model : {soft::CpuModel::Baseline, soft::CpuModel::Max}) {
        if (!soft::host_cannot_run(model).empty()) continue;
        Machine machine(SoftTier::Translator);
        machine.soft_vcpu().core().set_cpu_model(model);
        machine.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(r10d, 20); // hot: translated after the first runs
            c.L(loop);
            c.mov(eax, 0x1234);
            c.mov(edx, 0x5678);
            c.xor_(ecx, ecx);
            c.tzcnt(eax, ecx);
            c.setc(r8b);
            c.lzcnt(edx, ecx);
            c.setz(r9b);
            c.dec(r10d);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(machine);
        EXPECT_GT(machine.stats().native_ops, 0u);
        if (model == soft::CpuModel::Max) {
            EXPECT_EQ(machine.reg(x86::rax), 32u);
            EXPECT_EQ(machine.reg(x86::rdx), 32u);
            EXPECT_EQ(machine.reg(8) & 0xff, 1u); // tzcnt of 0: CF
            EXPECT_EQ(machine.reg(9) & 0xff, 0u); // lzcnt of 0 is 32: ZF clear
        } else {
            EXPECT_EQ(machine.reg(x86::rax), 0x1234u); // bsf of 0 leaves the destination
            EXPECT_EQ(machine.reg(x86::rdx), 0x5678u);
            EXPECT_EQ(machine.reg(9) & 0xff, 1u); // bsr of 0: ZF
        }
    }
}

TEST(Translator, ExtensionInstructionsRunAsIsOnlyWhereTheCpuModelHasThem) {
    // popcnt, pshufb (SSSE3) and pmulld (SSE4.1) are translated as themselves under a model
    // with them; under the baseline model the first of them raises #UD, as on a CPU without.
    for (const soft::CpuModel model : {soft::CpuModel::Baseline, soft::CpuModel::Max}) {
        if (!soft::host_cannot_run(model).empty()) continue;
        Machine machine(SoftTier::Translator);
        machine.set_idt_gate(6, handler_address, true, 0x18);
        machine.soft_vcpu().core().set_cpu_model(model);
        machine.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(r10d, 20); // hot: translated after the first runs
            c.mov(eax, 0x1234);
            c.L(loop);
            c.mov(ecx, 0xf0f0);
            c.popcnt(eax, ecx);
            c.mov(edx, 0x03020100);
            c.movd(xmm1, edx);
            c.mov(edx, 0x0c0d0e0f);
            c.movd(xmm0, edx);
            c.pshufb(xmm0, xmm1); // bytes 0f 0e 0d 0c picked by indices 0-3
            c.pmulld(xmm0, xmm0);
            c.movd(r8d, xmm0);
            c.dec(r10d);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(machine);
        if (model == soft::CpuModel::Max) {
            EXPECT_EQ(machine.reg(x86::rax), 8u);
            EXPECT_EQ(machine.reg(8), std::uint64_t{0x0c0d0e0fu * 0x0c0d0e0fu});
            EXPECT_GT(machine.stats().native_ops, 0u);
            EXPECT_EQ(machine.stats().fallback_ops, 0u) << "an extension went to the interpreter";
        } else {
            EXPECT_EQ(machine.state.rip, handler_address + 1) << "no #UD";
            EXPECT_EQ(machine.reg(x86::rax), 0x1234u);
        }
    }
}

namespace {

/// Guest code enabling AVX state (CR4.OSXSAVE, XCR0 = x87 | SSE | YMM), as an OS does.
void enable_avx_state(Xbyak::CodeGenerator& c) {
    const auto bytes = [&c](std::initializer_list<std::uint8_t> list) {
        for (const std::uint8_t b : list)
            c.db(b);
    };
    bytes({0x0f, 0x20, 0xe0}); // mov rax, cr4
    c.bts(rax, 18);
    bytes({0x0f, 0x22, 0xe0}); // mov cr4, rax
    c.xor_(ecx, ecx);
    c.mov(eax, 7);
    c.xor_(edx, edx);
    bytes({0x0f, 0x01, 0xd1}); // xsetbv
}

/// Guest code setting CR0.TS (an OS's lazy FPU switch): mov rax, cr0; or eax, 8; mov cr0, rax.
void set_cr0_ts(Xbyak::CodeGenerator& c) {
    for (const std::uint8_t b : {0x0f, 0x20, 0xc0})
        c.db(b);
    c.or_(eax, 8);
    for (const std::uint8_t b : {0x0f, 0x22, 0xc0})
        c.db(b);
}

} // namespace

TEST(Translator, AvxIntegerInstructionsRunAsIsWithTheirUpperHalves) {
    // A strlen-like AVX2 loop body: 256-bit loads, byte compares, masks, logic, an extract and
    // vzeroupper run as themselves, with the guest's bits 128-255 kept in ymm_upper.
    if (!soft::host_cannot_run(soft::CpuModel::V3).empty()) GTEST_SKIP() << "host lacks AVX2";
    Machine machine(SoftTier::Translator);
    machine.soft_vcpu().core().set_cpu_model(soft::CpuModel::V3);
    constexpr std::uint64_t data = 0x5000;
    std::vector<std::uint8_t> bytes(64);
    for (unsigned i = 0; i < 64; ++i)
        bytes[i] = static_cast<std::uint8_t>(i == 40 ? 0 : 0x41 + i % 26);
    machine.load(data, bytes);
    machine.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        enable_avx_state(c);
        Xbyak::Label loop;
        c.mov(r10d, 20); // hot: translated after the first runs
        c.L(loop);
        c.mov(rsi, data);
        c.vpxor(xmm7, xmm7, xmm7);
        c.vmovdqu(ymm0, c.ptr[rsi + 32]);
        c.vpcmpeqb(ymm1, ymm0, ymm7); // the zero byte at 40: bit 8 of the mask
        c.vpmovmskb(eax, ymm1);
        c.vpor(ymm2, ymm0, c.ptr[rsi]);
        c.vextracti128(xmm3, ymm2, 1);
        c.vmovq(r8, xmm3);
        c.vpbroadcastb(ymm4, c.ptr[rsi + 1]); // 'B' in all 32 bytes
        c.vpaddb(xmm5, xmm4, xmm4);           // VEX.128: bits 128-255 of ymm5 become 0
        c.vmovdqu(c.ptr[rsi + 64], ymm4);
        c.dec(r10d);
        c.jnz(loop);
        c.vmovdqu(ymm6, ymm4); // ymm6 keeps its upper half until vzeroupper
        c.vmovq(r9, xmm6);
        c.vzeroupper();
        c.hlt();
    });
    run_halted(machine);
    const soft::CpuCore& core = machine.soft_vcpu().core();
    EXPECT_EQ(machine.reg(x86::rax), 1u << 8);
    std::uint64_t expected_r8 = 0;
    for (unsigned i = 0; i < 8; ++i)
        expected_r8 |= std::uint64_t{static_cast<std::uint8_t>(bytes[48 + i] | bytes[16 + i])}
                       << (8 * i);
    EXPECT_EQ(machine.reg(8), expected_r8);
    EXPECT_EQ(machine.reg(9), 0x4242424242424242u);
    std::vector<std::uint8_t> stored(32);
    ASSERT_TRUE(machine.memory.read_bytes(data + 64, stored));
    EXPECT_EQ(stored, std::vector<std::uint8_t>(32, 0x42));
    EXPECT_EQ(core.fpu.xmm[5].q[0], 0x8484848484848484u);
    for (unsigned i = 0; i < 16; ++i)
        EXPECT_EQ(core.fpu.ymm_upper[i].q[0] | core.fpu.ymm_upper[i].q[1], 0u) << "ymm" << i;
    EXPECT_GT(machine.stats().native_ops, 0u);
    EXPECT_EQ(machine.stats().fallback_ops, 0u) << "a VEX instruction went to the interpreter";
}

TEST(Translator, AvxUpperHalvesSurviveUntilOverwritten) {
    // Bits 128-255 written by one translated VEX.256 instruction are read back by the next
    // block; a VEX.128 write clears them, a legacy SSE write keeps them.
    if (!soft::host_cannot_run(soft::CpuModel::V3).empty()) GTEST_SKIP() << "host lacks AVX2";
    Machine machine(SoftTier::Translator);
    machine.soft_vcpu().core().set_cpu_model(soft::CpuModel::V3);
    machine.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        enable_avx_state(c);
        Xbyak::Label loop;
        c.mov(r10d, 20);
        c.L(loop);
        c.mov(eax, 0x11);
        c.vmovd(xmm0, eax);
        c.vpbroadcastb(ymm1, xmm0); // 0x11 in all 32 bytes
        c.vpbroadcastb(ymm2, xmm0);
        c.vpaddb(xmm2, xmm2, xmm2); // VEX.128: upper half of ymm2 cleared
        c.vpbroadcastb(ymm3, xmm0);
        c.paddb(xmm3, xmm3); // legacy SSE: upper half of ymm3 kept
        c.dec(r10d);
        c.jnz(loop);
        c.hlt();
    });
    run_halted(machine);
    const soft::CpuCore& core = machine.soft_vcpu().core();
    EXPECT_EQ(core.fpu.ymm_upper[1].q[0], 0x1111111111111111u);
    EXPECT_EQ(core.fpu.ymm_upper[1].q[1], 0x1111111111111111u);
    EXPECT_EQ(core.fpu.xmm[2].q[0], 0x2222222222222222u);
    EXPECT_EQ(core.fpu.ymm_upper[2].q[0] | core.fpu.ymm_upper[2].q[1], 0u);
    EXPECT_EQ(core.fpu.xmm[3].q[1], 0x2222222222222222u);
    EXPECT_EQ(core.fpu.ymm_upper[3].q[1], 0x1111111111111111u);
    EXPECT_EQ(machine.stats().fallback_ops, 0u);
}

TEST(Translator, TranslatedAvxRaisesDeviceNotAvailableOnceCr0TsIsSet) {
    // The block is hot and translated while CR0.TS is clear; once the guest sets TS, the same
    // translated block raises #NM at its VEX instruction (an OS's lazy FPU switch), not the
    // host's AVX result.
    if (!soft::host_cannot_run(soft::CpuModel::V3).empty()) GTEST_SKIP() << "host lacks AVX2";
    Machine machine(SoftTier::Translator);
    machine.soft_vcpu().core().set_cpu_model(soft::CpuModel::V3);
    constexpr std::uint64_t nm_handler = 0x3800;
    machine.set_idt_gate(7, nm_handler, true, 0x18);
    machine.load(nm_handler, {0xf4});
    machine.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        enable_avx_state(c);
        Xbyak::Label loop, body, again;
        c.mov(r10d, 20);
        c.xor_(r11d, r11d);
        c.L(loop);
        c.call(body);
        c.dec(r10d);
        c.jnz(loop);
        set_cr0_ts(c);
        c.call(body);
        c.hlt(); // not reached: #NM first
        c.L(body);
        c.inc(r11d);
        c.vpcmpeqb(ymm0, ymm0, ymm0);
        c.ret();
    });
    run_halted(machine);
    EXPECT_EQ(machine.state.rip, nm_handler + 1) << "no #NM";
    EXPECT_EQ(machine.reg(11), 21u);
    EXPECT_GT(machine.stats().native_ops, 0u);
}

TEST(Translator, FnstcwIsTranslatedAndRaisesDeviceNotAvailableUnderCr0Ts) {
    // fnstcw (around every float-to-integer conversion a compiler emits) stores the control
    // word from translated code; once the guest sets CR0.TS the same block raises #NM.
    Machine machine(SoftTier::Translator);
    constexpr std::uint64_t nm_handler = 0x3800, data = 0x5000;
    machine.set_idt_gate(7, nm_handler, true, 0x18);
    machine.load(nm_handler, {0xf4});
    machine.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        Xbyak::Label loop, body;
        c.mov(r10d, 20);
        c.mov(rsi, data);
        c.mov(word[rsi + 8], 0x27f); // round to nearest, double precision
        c.fldcw(word[rsi + 8]);
        c.L(loop);
        c.call(body);
        c.dec(r10d);
        c.jnz(loop);
        c.mov(ax, word[rsi]);
        c.mov(word[rsi + 16], ax); // what the translated fnstcw stored
        set_cr0_ts(c);
        c.mov(word[rsi], 0);
        c.call(body);
        c.hlt(); // not reached: #NM first
        c.L(body);
        c.fnstcw(word[rsi]);
        c.ret();
    });
    run_halted(machine);
    EXPECT_EQ(machine.state.rip, nm_handler + 1) << "no #NM";
    const auto translated = machine.memory.read<std::uint16_t>(data + 16);
    const auto under_ts = machine.memory.read<std::uint16_t>(data);
    ASSERT_TRUE(translated && under_ts);
    EXPECT_EQ(*translated, 0x27fu);
    EXPECT_EQ(*under_ts, 0u) << "fnstcw stored under CR0.TS";
    EXPECT_EQ(machine.soft_vcpu().core().jit.interpreted_by_mnemonic[ZYDIS_MNEMONIC_FNSTCW], 1u)
        << "only the #NM run goes to the interpreter";
}

TEST(Translator, DataBreakpointArmedByTranslatedCodeFiresAndStopsTranslation) {
    // A hot store loop runs translated; half-way it arms a DR0 write breakpoint on a slot the
    // loop stores to later. Translated code would store past it unseen: once DR7 enables a
    // breakpoint the vCPU runs the interpreter alone and the #DB trap comes right after the store.
    constexpr std::uint64_t debug_handler = 0x4000;
    Machine m(SoftTier::Translator);
    m.set_idt_gate(1, debug_handler, true, 0x18);
    m.assemble(debug_handler, [](Xbyak::CodeGenerator& c) {
        c.mov(r8, rcx); // the loop counter at the trap
        c.inc(r9);      // #DB count
        c.db(0x0f);     // mov rbx, dr6 (Xbyak has no debug registers)
        c.db(0x21);
        c.db(0xf3);
        c.db(0x48); // iretq
        c.db(0xcf);
    });
    m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        Xbyak::Label loop, skip;
        c.mov(ecx, 1000);
        c.mov(rsi, 0x100000);
        c.xor_(r9d, r9d);
        c.L(loop);
        c.mov(qword[rsi + rcx * 8], rcx);
        c.cmp(ecx, 500);
        c.jne(skip);
        c.mov(eax, 0x100000 + 8 * 400);
        c.db(0x0f); // mov dr0, rax
        c.db(0x23);
        c.db(0xc0);
        c.mov(eax, 0x1 | (1u << 16) | (2u << 18)); // L0, write, eight bytes
        c.db(0x0f);                                // mov dr7, rax
        c.db(0x23);
        c.db(0xf8);
        c.L(skip);
        c.dec(ecx);
        c.jnz(loop);
        c.hlt();
    });
    run_halted(m);
    const auto stats = m.stats();
    EXPECT_GT(stats.translated_dispatches, 0u) << "the loop ran translated before";
    EXPECT_EQ(m.reg(9), 1u) << "one #DB";
    EXPECT_EQ(m.reg(8), 400u) << "right after the store of slot 400";
    EXPECT_EQ(m.reg(x86::rbx) & 0xf, 1u) << "DR6.B0";
    EXPECT_EQ(m.memory.read<std::uint64_t>(0x100000 + 8 * 400).value(), 400u);
}

TEST(Translator, PushfqAndCliMatchTheInterpreter) {
    // pushfq from translated code: arithmetic flags as the host computed them, DF and IF from
    // the CPU's state (cli translated at CPL 0 clears IF), RF clear; the flags stay the
    // guest's for the adc after it.
    auto machine = run_on_both([](Machine& m) {
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(r10d, 30);
            c.mov(rsp, 0x8000);
            c.xor_(r8d, r8d);
            c.xor_(r9d, r9d);
            c.L(loop);
            c.sti(); // IF in the next image (the interpreter ends the block here)
            c.std();
            c.mov(eax, r10d);
            c.sub(eax, 15); // CF, SF, ZF, OF, PF vary with the count
            c.pushfq();
            c.pop(rbx);
            c.add(r8, rbx);
            c.adc(r9, 0); // reads CF across the pushfq
            c.cld();
            c.cli(); // translated at CPL 0: IF clear in this image
            c.pushfq();
            c.pop(rcx);
            c.xor_(r8, rcx);
            c.dec(r10d);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_GT(machine->stats().native_ops, 0u);
    const auto& interpreted = machine->soft_vcpu().core().jit.interpreted_by_mnemonic;
    EXPECT_EQ(interpreted[ZYDIS_MNEMONIC_PUSHFQ], 0u) << "pushfq went to the interpreter";
    EXPECT_EQ(interpreted[ZYDIS_MNEMONIC_CLI], 0u) << "cli went to the interpreter";
}

TEST(Translator, Cmpxchg16bFencesAndPauseRunAsIsAndAMisalignedOperandRaisesGp) {
    // cmpxchg16b (SLUB's per-CPU freelist update, on every slab allocation) and cmpxchg8b,
    // succeeding and failing, with and without lock, keep CF & co. from before (only ZF
    // changes); a misaligned cmpxchg16b operand is #GP from the interpreter, never a host fault.
    auto machine = run_on_both([](Machine& m) {
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(r10d, 30);
            c.mov(rsi, 0x6000);
            c.xor_(r8d, r8d);
            c.L(loop);
            c.mov(rax, r10);
            c.xor_(edx, edx);
            c.lea(rbx, ptr[r10 + 1]);
            c.mov(rcx, 7);
            c.xor_(edi, edi);
            c.mov(r11d, 8);
            c.cmp(r10d, 1);
            c.cmove(edi, r11d); // the last round's operand is misaligned: #GP
            c.add(rdi, rsi);
            c.stc();
            c.lock();
            c.cmpxchg16b(ptr[rdi]); // equal when memory holds (r10, 0): every other round
            c.adc(r8, rax);         // CF survives; rax is the old value when not equal
            c.setz(r9b);
            c.add(r8, r9);
            c.cmpxchg8b(ptr[rsi + 20]); // unaligned is fine for the 8-byte form
            c.setz(r9b);
            c.add(r8, r9);
            c.mfence();
            c.lfence();
            c.sfence();
            c.pause(); // a spin-wait hint: the host's own
            c.dec(r10d);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->state.rip, handler_address + 1) << "no #GP for the misaligned operand";
    const auto& interpreted = machine->soft_vcpu().core().jit.interpreted_by_mnemonic;
    EXPECT_EQ(interpreted[ZYDIS_MNEMONIC_CMPXCHG16B], 1u) << "only the misaligned one";
    EXPECT_EQ(interpreted[ZYDIS_MNEMONIC_CMPXCHG8B], 0u);
    EXPECT_EQ(interpreted[ZYDIS_MNEMONIC_MFENCE], 0u);
    EXPECT_EQ(interpreted[ZYDIS_MNEMONIC_PAUSE], 0u);
}

TEST(Translator, SegmentSelectorReadsRunInTranslatedCode) {
    // mov r32/r64, Sreg (a kernel's sync_core reads ss and cs before its iret to self): the
    // selector zero-extended, into host-held and memory-held guest registers alike.
    auto machine = run_on_both([](Machine& m) {
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(r10d, 30);
            c.mov(rax, ~0ull);
            c.mov(r13, ~0ull);
            c.xor_(r8d, r8d);
            c.L(loop);
            c.mov(eax, ss);
            c.add(r8, rax);
            c.mov(rbx, cs);
            c.add(r8, rbx);
            c.mov(r13d, ds);
            c.add(r8, r13);
            c.dec(r10d);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(8), 30u * (0x10 + 0x18 + 0x10));
    EXPECT_EQ(machine->soft_vcpu().core().jit.interpreted_by_mnemonic[ZYDIS_MNEMONIC_MOV], 0u);
}

TEST(Translator, LeaveRunsInTranslatedCodeAndAFaultingLeaveChangesNothing) {
    // enter-style frames left with leave in a hot loop; then a leave whose frame pointer points
    // at an unmapped page faults with rsp and rbp as they were.
    auto machine = run_on_both([](Machine& m) {
        m.unmap(0x7000);
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(r10d, 30);
            c.mov(rsp, 0x9000);
            c.mov(rbp, 0x1234);
            c.xor_(r8d, r8d);
            c.L(loop);
            c.push(rbp);
            c.mov(rbp, rsp);
            c.sub(rsp, 0x40);
            c.mov(qword[rbp - 8], r10);
            c.add(r8, qword[rbp - 8]);
            c.cmp(r10d, 1);
            c.mov(eax, 0x7008);
            c.cmove(rbp, rax); // the last round leaves through an unmapped frame: #PF
            c.leave();
            c.add(r8, rbp);
            c.dec(r10d);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->state.rip, handler_address + 1) << "no #PF";
    EXPECT_EQ(machine->state.cr2, 0x7008u);
    EXPECT_EQ(machine->soft_vcpu().core().jit.interpreted_by_mnemonic[ZYDIS_MNEMONIC_LEAVE], 1u)
        << "only the faulting leave goes to the interpreter";
}
