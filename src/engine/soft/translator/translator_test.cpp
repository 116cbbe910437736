// Translator: guest programs run on the translation tier and on the interpreter alone must end in
// the same state; self-modifying code, remapped code, page crossings, faults in the middle of a
// block, kicks in a tight loop and a full code cache are the cases that keep translations honest.
// (Instructions translated as themselves or by small emitters: translator_instructions_test.cpp;
// flags kept live across lookups and block ends: flag_liveness_test.cpp.)
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <thread>

#include "engine/soft/null_soft_platform.hpp"
#include "engine/soft/translator/translator_test_machine.hpp"

using namespace vessel;
using namespace vessel::soft::translator_testing;
using namespace Xbyak::util;

TEST(Translator, HotLoopIsTranslatedAndAgreesWithTheInterpreter) {
    auto machine = run_on_both([](Machine& m) {
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 1000);
            c.mov(rsi, 0x100000);
            c.xor_(eax, eax);
            c.L(loop);
            c.mov(qword[rsi + rcx * 8], rcx); // store
            c.add(rax, qword[rsi + rcx * 8]); // load
            c.imul(rdx, rax, 3);
            c.lea(r12, ptr[rdx + rcx * 2 + 7]); // a register kept in memory by the translator
            c.xor_(r13, r12);
            c.push(r13);
            c.pop(r14);
            c.cmp(rcx, 500);
            c.setb(bl);
            c.adc(r15, 0); // reads CF across the instructions above
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rax), 500500u);
    EXPECT_EQ(machine->reg(15), 499u);
    const auto stats = machine->stats();
    EXPECT_GT(stats.blocks_translated, 0u);
    EXPECT_GT(stats.native_ops, 10u);
    EXPECT_GT(stats.chain_patches, 0u); // the loop's back edge
}

TEST(Translator, ForwardConditionalExitsTakenBothWaysAfterChaining) {
    // Each forward conditional exit is chained twice over: its jmp, and the jcc leading to it,
    // which then jumps straight to the target block. Both ways of every branch run many times
    // after that, with the flags the branch tested.
    auto machine = run_on_both([](Machine& m) {
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, odd, third, next;
            c.mov(ecx, 300);
            c.xor_(ebx, ebx);
            c.xor_(edx, edx);
            c.L(loop);
            c.test(cl, 1);
            c.jnz(odd); // taken every other round
            c.add(ebx, 1);
            c.L(odd);
            c.add(ebx, 2);
            c.mov(eax, ecx);
            c.and_(eax, 3);
            c.cmp(eax, 2);
            c.jb(third); // taken two rounds in four, with CF set by the cmp
            c.adc(edx, 10);
            c.jmp(next);
            c.L(third);
            c.adc(edx, 100); // CF = 1 here
            c.L(next);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rbx), 150u * 1 + 300u * 2);
    EXPECT_EQ(machine->reg(x86::rdx), 150u * 10 + 150u * 101);
    EXPECT_GT(machine->stats().chain_patches, 3u);
}

TEST(Translator, SelfModifyingCodeInsideTheRunningBlock) {
    auto machine = run_on_both([](Machine& m) {
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, patched;
            c.mov(ecx, 100);
            c.xor_(ebx, ebx);
            c.L(loop);
            c.mov(byte[rip + patched + 1], cl); // the immediate of the mov below
            c.L(patched);
            c.mov(eax, 0);
            c.add(ebx, eax);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rbx), 5050u); // each pass runs the immediate it just stored
}

TEST(Translator, CodeRewrittenByAnotherBlockOnTheSamePageUnchains) {
    auto machine = run_on_both([](Machine& m) {
        // The loop calls a function at 0x1800 (same page, chained), rewriting its immediate
        // after 50 calls.
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, keep;
            c.mov(ecx, 100);
            c.xor_(ebx, ebx);
            c.mov(rdi, 0x1800);
            c.L(loop);
            c.call(rdi);
            c.add(ebx, eax);
            c.cmp(ecx, 50);
            c.jne(keep);
            c.mov(dword[rdi + 1], 1000); // mov eax, imm32 at 0x1800 now returns 1000
            c.L(keep);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        m.assemble(0x1800, [](Xbyak::CodeGenerator& c) {
            c.mov(eax, 1);
            c.ret();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rbx), 51u * 1 + 49u * 1000); // rewritten after the 51st call
}

TEST(Translator, DeviceWriteToTranslatedCodeIsSeen) {
    Machine machine(SoftTier::Translator);
    const auto program = [](std::uint32_t value) {
        return [value](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 100);
            c.xor_(ebx, ebx);
            c.L(loop);
            c.add(ebx, value);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        };
    };
    machine.assemble(SoftTestMachine::code_address, program(1));
    const auto initial = machine.state;
    run_halted(machine);
    EXPECT_EQ(machine.reg(x86::rbx), 100u);
    ASSERT_GT(machine.stats().blocks_translated, 0u);
    machine.assemble(SoftTestMachine::code_address, program(7)); // as DMA would
    machine.state = initial;
    run_halted(machine);
    EXPECT_EQ(machine.reg(x86::rbx), 700u);
}

TEST(Translator, RemappedCodePageRunsTheNewCode) {
    auto machine = run_on_both([](Machine& m) {
        // 0x5000 is mapped to physical 0x6000 (returns 1), later to 0x7000 (returns 2).
        m.assemble(0x6000, [](Xbyak::CodeGenerator& c) {
            c.mov(eax, 1);
            c.ret();
        });
        m.assemble(0x7000, [](Xbyak::CodeGenerator& c) {
            c.mov(eax, 2);
            c.ret();
        });
        m.map(0x5000, 0x6000);
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, keep;
            c.mov(ecx, 100);
            c.xor_(ebx, ebx);
            c.mov(rdi, 0x5000);
            c.L(loop);
            c.call(rdi);
            c.add(ebx, eax);
            c.cmp(ecx, 50);
            c.jne(keep);
            c.mov(rsi, page_table + 8 * 5);
            c.mov(qword[rsi], 0x7000 | present_writable);
            c.db(0x0f); // invlpg [rdi]
            c.db(0x01);
            c.db(0x3f);
            c.L(keep);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rbx), 51u * 1 + 49u * 2); // remapped after the 51st call
}

TEST(Translator, PageCrossingInstructionAndOperand) {
    auto machine = run_on_both([](Machine& m) {
        ASSERT_TRUE(m.memory.write<std::uint64_t>(0x9ffc, 0x1122334455667788));
        // The loop body starts 6 bytes before a page end: its 10-byte mov crosses into the next
        // page, and the 8-byte load at 0x9ffc crosses a page too.
        m.assemble(0x1ffa - 7, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 100);  // 5 bytes
            c.xor_(ebx, ebx); // 2 bytes: the loop starts at 0x1ffa
            c.L(loop);
            c.mov(rax, 0x0102030405060708);
            c.add(rbx, rax);
            c.mov(edi, 0x9ffc);
            c.add(rbx, qword[rdi]);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        m.state.rip = 0x1ffa - 7;
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rbx), 100 * (0x0102030405060708ull + 0x1122334455667788ull));
}

TEST(Translator, PageCrossingInstructionFollowsStoresToAndRemapsOfItsTail) {
    auto machine = run_on_both([](Machine& m) {
        // mov eax, imm32 at 0x4ffd: two immediate bytes on page 0x4000, two and the ret on page
        // 0x5000, which maps physical 0x6000 (eax = 1), is stored to (eax = 0x10001) and is
        // then remapped to physical 0x7000 (eax = 0x20001).
        m.load(0x4ffd, {0xb8, 0x01, 0x00});
        m.load(0x6000, {0x00, 0x00, 0xc3});
        m.load(0x7000, {0x02, 0x00, 0xc3});
        m.map(0x5000, 0x6000);
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, keep, stay;
            c.mov(ecx, 100);
            c.xor_(ebx, ebx);
            c.mov(rdi, 0x4ffd);
            c.L(loop);
            c.call(rdi);
            c.add(ebx, eax);
            c.cmp(ecx, 70);
            c.jne(keep);
            c.mov(byte[rdi + 3], 1); // the tail's third immediate byte, through the mapping
            c.L(keep);
            c.cmp(ecx, 40);
            c.jne(stay);
            c.mov(rsi, page_table + 8 * 5);
            c.mov(qword[rsi], 0x7000 | present_writable);
            c.mov(rdx, 0x5000);
            c.db(0x0f); // invlpg [rdx]
            c.db(0x01);
            c.db(0x3a);
            c.L(stay);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rbx), 31u * 1 + 30u * 0x10001 + 39u * 0x20001);
}

TEST(Translator, PageFaultInTheMiddleOfATranslatedBlockIsPrecise) {
    std::uint64_t faulting_rip = 0;
    auto machine = run_on_both([&faulting_rip](Machine& m) {
        m.unmap(0x1f0000);
        m.assemble(SoftTestMachine::code_address, [&faulting_rip](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(rsi, 0x1e6000);
            c.xor_(ebx, ebx);
            c.L(loop);
            c.lahf(); // reads the flags the block below leaves: they stay live to its end
            c.inc(rbx);
            c.mov(rdx, rbx);
            c.cmp(rbx, 5); // flags the fault frame must show
            faulting_rip = SoftTestMachine::code_address + c.getSize();
            c.mov(rax, qword[rsi + 8]); // faults when rsi reaches 0x1f0000
            c.mov(r8, rbx);
            c.lea(rsi, ptr[rsi + 0x1000]);
            c.jmp(loop);
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->state.cr2, 0x1f0008u);
    EXPECT_EQ(machine->reg(x86::rbx), 11u);
    EXPECT_EQ(machine->reg(x86::rdx), 11u);
    EXPECT_EQ(machine->reg(8), 10u); // the instruction after the fault did not run
    const std::uint64_t frame = machine->reg(x86::rsp);
    EXPECT_EQ(machine->memory.read<std::uint64_t>(frame).value(), 0u); // not present, read
    EXPECT_EQ(machine->memory.read<std::uint64_t>(frame + 8).value(), faulting_rip);
    const std::uint64_t flags = machine->memory.read<std::uint64_t>(frame + 24).value();
    EXPECT_EQ(flags & (x86::rflags::zf | x86::rflags::cf | x86::rflags::sf), 0u); // 11 > 5
    EXPECT_GT(machine->stats().blocks_translated, 0u);
}

TEST(Translator, KickStopsATightLoopQuickly) {
    Machine machine(SoftTier::Translator);
    machine.load(SoftTestMachine::code_address, {0xeb, 0xfe}); // jmp $
    expect_a_kick_to_stop_it_quickly(machine);
    EXPECT_GT(machine.stats().translated_dispatches, 0u);
}

TEST(Translator, StiCliAndSwapgsLeaveTheBlockGoingWhileNoInterruptWaits) {
    // They run in the interpreter and come back to the block; only an sti with an interrupt
    // waiting ends it (SoftVcpu.InterruptArrivesInTheWindowAfterTheStiShadow).
    auto machine = run_on_both([](Machine& m) {
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 2000);
            c.xor_(eax, eax);
            c.L(loop);
            c.sti();
            c.add(rax, rcx);
            c.cli();
            c.db(0x0f), c.db(0x01), c.db(0xf8); // swapgs
            c.db(0x0f), c.db(0x01), c.db(0xf8); // swapgs
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rax), 2001000u);
    const auto stats = machine->stats();
    EXPECT_GT(stats.translated_dispatches, 0u);
    EXPECT_LT(stats.exits_helper, 100u) << "one per sti, cli or swapgs";
}

/// No interrupt hardware; counts the run loop's timer polls.
struct PollCountingPlatform final : soft::NullSoftPlatform {
    explicit PollCountingPlatform(std::shared_ptr<std::atomic<std::uint64_t>> counter)
        : polls(std::move(counter)) {}
    void poll(std::uint32_t) override { polls->fetch_add(1, std::memory_order_relaxed); }
    std::shared_ptr<std::atomic<std::uint64_t>> polls;
};

TEST(Translator, TimersArePolledEachTimeTheBudgetRunsOut) {
    // A tight loop never leaves translated code by itself: the budget makes it return, and the
    // run loop must then poll the timers (a due timer interrupt waits at most one budget).
    auto polls = std::make_shared<std::atomic<std::uint64_t>>(0);
    Machine machine(
        SoftTier::Translator, 1,
        [polls](Bus&, Bus&, std::uint32_t) -> Result<std::unique_ptr<soft::SoftPlatform>> {
            return std::make_unique<PollCountingPlatform>(polls);
        });
    machine.load(SoftTestMachine::code_address, {0xeb, 0xfe}); // jmp $
    ASSERT_TRUE(machine.vcpu->set_state(machine.state));
    auto exit = std::async(std::launch::async, [&] { return machine.vcpu->run(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    machine.vcpu->kick();
    ASSERT_EQ(exit.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    EXPECT_EQ(exit.get().kind, VcpuExit::Kind::Kicked);
    const std::uint64_t budget_exits = machine.stats().exits_budget;
    EXPECT_GT(budget_exits, 10u);
    EXPECT_GE(polls->load(), budget_exits) << "budget exits without a timer poll after them";
}

TEST(Translator, FullCodeCacheIsFlushedAndCodeStillRuns) {
    auto machine = run_on_both([](Machine& m) {
        if (m.soft_vcpu().translator() != nullptr) {
            soft::Translator::Options options;
            options.cache_size = 64 << 10;
            ASSERT_TRUE(m.soft_vcpu().enable_translator(options));
        }
        // 400 blocks of "add rax, i; jmp next", 64 bytes apart, run five times.
        constexpr std::uint64_t first = 0x40000;
        constexpr unsigned blocks = 400;
        for (unsigned i = 0; i < blocks; ++i)
            m.assemble(first + 64 * i, [i](Xbyak::CodeGenerator& c) {
                c.add(rax, i);
                c.add(rsi, qword[rdi]);
                c.db(0xe9); // jmp rel32 to the next block
                c.dd(64 - static_cast<std::uint32_t>(c.getSize() + 4));
            });
        m.assemble(first + 64 * blocks, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label done;
            c.dec(ecx);
            c.jz(done);
            c.jmp(rdx);
            c.L(done);
            c.hlt();
        });
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            c.mov(ecx, 5);
            c.mov(rdx, first);
            c.mov(rdi, 0x100000);
            c.mov(qword[rdi], 3);
            c.jmp(rdx);
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rax), 5u * (400 * 399 / 2));
    EXPECT_EQ(machine->reg(x86::rsi), 5u * 400 * 3);
    EXPECT_GT(machine->stats().cache_flushes, 0u);
}

TEST(Translator, CodeRewrittenByAnotherVcpuIsSeen) {
    Machine machine(SoftTier::Translator, 2);
    constexpr std::uint64_t function = 0x5000, go = 0x7000, writer_code = 0x8000;
    // vCPU 1 calls the function at 0x5000 until it returns 2.
    machine.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        Xbyak::Label wait, loop;
        c.mov(rdi, function);
        c.mov(rsi, go);
        c.L(wait);
        c.cmp(dword[rsi], 0);
        c.je(wait);
        c.L(loop);
        c.call(rdi);
        c.cmp(eax, 2);
        c.jne(loop);
        c.hlt();
    });
    // vCPU 0 writes the function itself ("mov eax, 1; ret": its store TLB entry for the page
    // exists before the page holds code), lets vCPU 1 run it for a while, then rewrites its
    // immediate.
    machine.assemble(writer_code, [](Xbyak::CodeGenerator& c) {
        Xbyak::Label delay;
        c.mov(rdi, function);
        c.mov(dword[rdi], 0x000001b8); // b8 01 00 00 | 00 c3: mov eax, 1; ret
        c.mov(word[rdi + 4], 0xc300);
        c.mov(rsi, go);
        c.mov(dword[rsi], 1);
        c.mov(ecx, 3000000);
        c.L(delay);
        c.dec(ecx);
        c.jnz(delay);
        c.mov(dword[rdi + 1], 2);
        c.hlt();
    });
    x86::CpuState reader_state = machine.state;
    auto reader = machine.vm->create_vcpu(1).value();
    ASSERT_TRUE(reader->set_state(reader_state));
    machine.state.rip = writer_code;
    ASSERT_TRUE(machine.vcpu->set_state(machine.state));
    auto reader_exit = std::async(std::launch::async, [&] { return reader->run(); });
    const VcpuExit writer_exit = machine.vcpu->run();
    EXPECT_EQ(writer_exit.kind, VcpuExit::Kind::Halted) << writer_exit.message;
    if (reader_exit.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
        reader->kick();
        FAIL() << "vCPU 1 kept running the old code";
    }
    EXPECT_EQ(reader_exit.get().kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(reader->state().value().gpr[x86::rax], 2u);
}

TEST(Translator, RepMovsAndStosCopyByPagesAndFaultWithProgress) {
    Machine machine(SoftTier::Translator);
    std::vector<std::uint8_t> pattern(10000);
    for (std::size_t i = 0; i < pattern.size(); ++i)
        pattern[i] = static_cast<std::uint8_t>(i * 7 + 3);
    machine.load(0x100000, pattern);
    machine.unmap(0x1f0000);
    machine.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        c.cld();
        c.mov(rsi, 0x100000); // 10000 bytes to an unaligned destination across pages
        c.mov(rdi, 0x120003);
        c.mov(ecx, 10000);
        c.rep();
        c.movsb();
        c.mov(rsi, 0x140000); // overlapping: each byte copies the one before it
        c.mov(byte[rsi], 0x5a);
        c.lea(rdi, ptr[rsi + 1]);
        c.mov(ecx, 100);
        c.rep();
        c.movsb();
        c.mov(rdi, 0x150008); // a qword pattern
        c.mov(rax, 0x1122334455667788);
        c.mov(ecx, 1000);
        c.rep();
        c.stosq();
        c.mov(rsi, 0x100000); // runs into the unmapped page after 0x100 bytes
        c.mov(rdi, 0x1eff00);
        c.mov(ecx, 0x200);
        c.rep();
        c.movsb();
        c.hlt();
    });
    run_halted(machine);
    std::vector<std::uint8_t> copy(pattern.size());
    ASSERT_TRUE(machine.memory.read_bytes(0x120003, copy));
    EXPECT_TRUE(copy == pattern);
    for (std::uint64_t i = 0; i <= 100; ++i)
        ASSERT_EQ(machine.memory.read<std::uint8_t>(0x140000 + i).value(), 0x5a) << i;
    for (std::uint64_t i = 0; i < 1000; ++i)
        ASSERT_EQ(machine.memory.read<std::uint64_t>(0x150008 + 8 * i).value(),
                  0x1122334455667788u);
    // The #PF handler halted: the fault left the registers at the first byte not copied.
    EXPECT_EQ(machine.state.cr2, 0x1f0000u);
    EXPECT_EQ(machine.reg(x86::rcx), 0x100u);
    EXPECT_EQ(machine.reg(x86::rdi), 0x1f0000u);
    EXPECT_EQ(machine.reg(x86::rsi), 0x100100u);
    std::vector<std::uint8_t> partial(0x100);
    ASSERT_TRUE(machine.memory.read_bytes(0x1eff00, partial));
    EXPECT_TRUE(std::equal(partial.begin(), partial.end(), pattern.begin()));
}

TEST(Translator, TranslatedRepMovsAndStosMatchTheInterpreter) {
    auto machine = run_on_both([](Machine& m) {
        std::vector<std::uint8_t> pattern(0x3000);
        for (std::size_t i = 0; i < pattern.size(); ++i)
            pattern[i] = static_cast<std::uint8_t>(i * 13 + 5);
        m.load(0x100000, pattern);
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(r8d, 20); // hot: translated after the first runs
            c.L(loop);
            c.mov(rsi, 0x100010); // within one page each
            c.mov(rdi, 0x130020);
            c.lea(rcx, ptr[r8 + 40]);
            c.rep();
            c.movsb();
            c.add(r10, rsi); // every register a string instruction moves is checked
            c.add(r10, rdi);
            c.add(r10, rcx);
            c.mov(rsi, 0x131000); // overlapping forward: a run of one byte
            c.mov(rdi, 0x131001);
            c.mov(ecx, 200);
            c.rep();
            c.movsb();
            c.add(r10, rsi); // every register a string instruction moves is checked
            c.add(r10, rdi);
            c.add(r10, rcx);
            c.mov(rdi, 0x132008);
            c.mov(rax, r8);
            c.mov(ecx, 64);
            c.rep();
            c.stosq();
            c.add(r10, rdi);
            c.add(r10, rcx);
            c.mov(rdi, 0x133ffc); // crosses into the next page: the interpreter's
            c.mov(ecx, 3);
            c.rep();
            c.stosw();
            c.mov(rsi, 0x100ff0); // source crosses a page
            c.mov(rdi, 0x134000);
            c.mov(ecx, 8);
            c.rep();
            c.movsd();
            c.std(); // backwards: the interpreter's
            c.mov(rdi, 0x135010);
            c.mov(ecx, 5);
            c.rep();
            c.stosb();
            c.cld();
            c.xor_(ecx, ecx); // no element
            c.rep();
            c.movsq();
            c.cmp(r8, 10); // flags live across the string instructions
            c.rep();
            c.stosb();
            c.setb(r9b);
            c.dec(r8d);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->memory.read<std::uint8_t>(0x131000 + 200).value(),
              machine->memory.read<std::uint8_t>(0x131000).value());
    EXPECT_EQ(machine->memory.read<std::uint64_t>(0x132008).value(), 1u);
    EXPECT_EQ(machine->reg(x86::rdi), 0x135010u - 5);
    EXPECT_NE(machine->reg(10), 0u);
    EXPECT_GT(machine->stats().native_ops, 0u);
}

// An access site guesses its TLB entry (JitTlbHint). One hopping between far pages gives its
// guess up (its code is patched to the hashed index) and stays exact, also in the middle of a rep
// movs that keeps the destination in JitContext::spill; one scanning page after page keeps it.
TEST(Translator, TlbHintOfAnAccessHoppingBetweenPagesGivesUpAndStaysExact) {
    auto machine = run_on_both([](Machine& m) {
        if (soft::Translator* translator = m.soft_vcpu().translator())
            translator->set_kernel_tlb_hints(true); // the test machine runs at CPL 0
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(r8d, 300);
            c.L(loop);
            c.imul(eax, r8d, 0x9e37); // a page among 16, four pages apart
            c.and_(eax, 0xf << 14);
            c.add(rax, 0x100000);
            c.add(r9, qword[rax + 8]);    // hopping load
            c.mov(qword[rax + 0x48], r8); // hopping store, into the rep movs source
            c.lea(rsi, ptr[rax + 0x40]);  // hopping source of a rep movs
            c.mov(rdi, 0x141020);
            c.mov(ecx, 24);
            c.rep();
            c.movsb();
            c.mov(r11d, 0x141028);
            c.add(r10, qword[r11]);
            c.dec(r8d);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_GE(machine->soft_vcpu().translator()->unhinted_sites(), 3u);
    EXPECT_NE(machine->reg(10), 0u);
}

TEST(Translator, TlbHintOfAPageByPageScanIsKept) {
    auto machine = run_on_both([](Machine& m) {
        if (soft::Translator* translator = m.soft_vcpu().translator())
            translator->set_kernel_tlb_hints(true);
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(esi, 0x100000);
            c.mov(ecx, 2048);
            c.L(loop);
            c.add(rax, qword[rsi]); // 256 pages, one after the other
            c.add(rsi, 512);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->soft_vcpu().translator()->unhinted_sites(), 0u);
    EXPECT_GT(machine->stats().native_ops, 0u);
}

// An empty JIT TLB entry's tag is a non-canonical page whose slot bits name the next slot: a
// non-canonical address (here the page just above the empty tag of slot 0x100's neighbour)
// misses its own slot's entry and raises #GP as on hardware, instead of reaching a host page.
TEST(Translator, ANonCanonicalAddressRaisesGeneralProtection) {
    for (const std::uint64_t address :
         {std::uint64_t{0x8000000000101008}, std::uint64_t{0x8000000000000ff0}}) {
        auto machine = run_on_both([address](Machine& m) {
            if (m.soft_vcpu().translator() != nullptr) {
                soft::Translator::Options options;
                options.hot_threshold = 1; // the first run of the block is translated
                ASSERT_TRUE(m.soft_vcpu().enable_translator(options));
            }
            m.assemble(SoftTestMachine::code_address, [address](Xbyak::CodeGenerator& c) {
                Xbyak::Label loop;
                c.mov(rax, address);
                c.mov(ecx, 3);
                c.L(loop);
                c.add(rbx, qword[rax]);
                c.mov(qword[rax + 8], rcx);
                c.dec(ecx);
                c.jnz(loop);
                c.hlt();
            });
            run_halted(m);
        });
        EXPECT_EQ(machine->state.rip, handler_address + 1) << std::hex << address; // #GP
        EXPECT_EQ(machine->reg(x86::rcx), 3u) << std::hex << address;
    }
}

// A site that guesses its entry (JitTlbHint) compares with an entry of another slot, whose
// empty tag a non-canonical address can match: such an access reaches the vCPU's poison page,
// never guest RAM (and never crashes Vessel). Hinted sites are user code without page aliases.
TEST(Translator, ANonCanonicalAddressAtAHintedSiteStaysOffGuestRam) {
    // 1 << 63 was every empty entry's tag, and an emptied entry kept its host page: a store
    // there went to the page the entry held before. Now slot 0x100's empty tag is
    // 0x8000000000101000 (the poison page's address).
    for (const std::uint64_t address :
         {std::uint64_t{0x8000000000000000}, std::uint64_t{0x8000000000101000}}) {
        Machine machine(SoftTier::Translator);
        soft::Translator::Options options;
        options.hot_threshold = 1;
        ASSERT_TRUE(machine.soft_vcpu().enable_translator(options));
        machine.soft_vcpu().translator()->set_kernel_tlb_hints(true);
        machine.assemble(SoftTestMachine::code_address, [address](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(rsi, 0x100000);
            c.mov(ecx, 8);
            c.L(loop);
            c.mov(qword[rsi], rcx); // its guess: slot 0x100 (emptied by the cr3 write below)
            c.db(0x0f);
            c.db(0x20);
            c.db(0xda); // mov rdx, cr3
            c.db(0x0f);
            c.db(0x22);
            c.db(0xda); // mov cr3, rdx
            c.mov(rsi, address);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        const VcpuExit exit = machine.run();
        EXPECT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
        std::vector<std::uint8_t> ram(2u << 20);
        ASSERT_TRUE(machine.memory.read_bytes(0, ram));
        std::uint64_t first = 0;
        std::memcpy(&first, &ram[0x100000], 8);
        EXPECT_EQ(first, 8u) << std::hex << address; // the first round's store alone
    }
}

TEST(Translator, IdleReleaseFreesCodeAndBlocksAndTheGuestRunsOnAfterIt) {
    Machine machine(SoftTier::Translator);
    machine.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        Xbyak::Label loop;
        c.mov(ecx, 1000);
        c.xor_(ebx, ebx);
        c.L(loop);
        c.add(ebx, ecx);
        c.dec(ecx);
        c.jnz(loop);
        c.hlt();
    });
    const auto initial = machine.state;
    run_halted(machine);
    EXPECT_EQ(machine.reg(x86::rbx), 500500u);
    soft::Translator& translator = *machine.soft_vcpu().translator();
    const std::size_t code_before = translator.code_bytes();
    const std::uint64_t translated_before = machine.stats().blocks_translated;
    ASSERT_GT(translated_before, 0u);
    ASSERT_GT(machine.soft_vcpu().interpreter().cache().size(), 0u);
    machine.soft_vcpu().release_idle_memory();
    EXPECT_EQ(machine.soft_vcpu().interpreter().cache().size(), 0u);
    EXPECT_LT(translator.code_bytes(), code_before);
    machine.state = initial; // runs again: decoded and translated anew
    run_halted(machine);
    EXPECT_EQ(machine.reg(x86::rbx), 500500u);
    EXPECT_GT(machine.stats().blocks_translated, translated_before);
}

TEST(Translator, MovesIntoLowBytesOfRegistersKeptInMemoryKeepTheirOtherBytes) {
    // Guest r10 and r13-r15 live in memory; a move into their low 8 or 16 bits is stored
    // back alone (no load of the rest), which must leave the other bytes as they were.
    auto machine = run_on_both([](Machine& m) {
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(rsi, 0x100000);
            c.mov(rax, 0x0123456789abcdefu);
            c.mov(qword[rsi], rax);
            c.xor_(eax, eax);
            c.mov(r10, 0x1111111111111111u);
            c.mov(r13, 0x2222222222222222u);
            c.mov(r14, 0x3333333333333333u);
            c.mov(r15, 0x4444444444444444u);
            c.mov(ecx, 20);
            c.L(loop);
            c.mov(r14b, byte[rsi + rcx]);
            c.mov(r13w, word[rsi + 2]);
            c.mov(r15b, cl);
            c.movzx(r10w, byte[rsi + 1]);
            c.add(rax, r14);
            c.add(rax, r13);
            c.add(rax, r15);
            c.add(rax, r10);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(13), 0x22222222222289abu);
    EXPECT_EQ(machine->reg(15), 0x4444444444444401u);
    EXPECT_EQ(machine->reg(10), 0x11111111111100cdu);
    EXPECT_EQ(machine->reg(14) >> 8, 0x33333333333333u);
}
