// Translator: guest programs run on the translation tier and on the interpreter alone must end in
// the same state; self-modifying code, remapped code, page crossings, faults in the middle of a
// block, kicks in a tight loop and a full code cache are the cases that keep translations honest.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include "engine/soft/null_soft_platform.hpp"
#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint64_t page_tables = 0x20000;
constexpr std::uint64_t page_table = page_tables + 0x3000; ///< 4 KiB pages for 0-2 MiB
constexpr std::uint64_t handler_address = 0x3000;
constexpr std::uint64_t present_writable = 0x3;

/// A 64-bit CPL 0 machine with 4 KiB identity pages over the first 2 MiB (so tests can unmap
/// and remap single pages) and a 2 MiB page above; hlt with IF clear ends a run.
struct Machine : SoftTestMachine {
    explicit Machine(SoftTier tier, std::uint32_t cpus = 1,
                     soft::SoftPlatformFactory platform = pc::PcSoftPlatform::factory())
        : SoftTestMachine(tier, cpus, std::move(platform)) {
        install_gdt();
        EXPECT_TRUE(memory.write<std::uint64_t>(page_tables, (page_tables + 0x1000) | 3));
        EXPECT_TRUE(memory.write<std::uint64_t>(page_tables + 0x1000, (page_tables + 0x2000) | 3));
        EXPECT_TRUE(memory.write<std::uint64_t>(page_tables + 0x2000, page_table | 3));
        EXPECT_TRUE(memory.write<std::uint64_t>(page_tables + 0x2008, (1u << 21) | 0x83));
        for (std::uint64_t page = 0; page < 512; ++page)
            map(page << 12, page << 12);
        state.cs = x86::flat_segment(0x18, 0xb, true);
        state.cr0 |= x86::cr0::pg;
        state.cr3 = page_tables;
        state.cr4 |= x86::cr4::pae | x86::cr4::osfxsr;
        state.efer = x86::efer::lme | x86::efer::lma;
        set_idt_gate(14, handler_address, true, 0x18);
        set_idt_gate(13, handler_address, true, 0x18);
        load(handler_address, {0xf4}); // hlt
    }

    void map(std::uint64_t linear, std::uint64_t physical, std::uint64_t flags = present_writable) {
        EXPECT_TRUE(memory.write<std::uint64_t>(page_table + 8 * (linear >> 12), physical | flags));
    }
    void unmap(std::uint64_t linear) { map(linear, 0, 0); }

    /// Assembles guest code with Xbyak (position-independent: labels only) at `address`.
    void assemble(std::uint64_t address, const std::function<void(Xbyak::CodeGenerator&)>& body) {
        Xbyak::CodeGenerator code(1 << 16);
        code.setDefaultJmpNEAR(true);
        body(code);
        std::vector<std::uint8_t> bytes(code.getCode(), code.getCode() + code.getSize());
        load(address, bytes);
    }

    soft::Translator::Stats stats() {
        soft::Translator* translator = soft_vcpu().translator();
        return translator != nullptr ? translator->stats() : soft::Translator::Stats{};
    }
};

/// Runs `program` on both tiers; returns the translator machine after checking that its end
/// state and first 2 MiB of RAM equal the interpreter's.
template <typename Program> std::unique_ptr<Machine> run_on_both(Program program) {
    auto interpreted = std::make_unique<Machine>(SoftTier::Interpreter);
    auto translated = std::make_unique<Machine>(SoftTier::Translator);
    program(*interpreted);
    program(*translated);
    EXPECT_EQ(translated->state.rip, interpreted->state.rip);
    for (int i = 0; i < 16; ++i)
        EXPECT_EQ(translated->state.gpr[i], interpreted->state.gpr[i]) << "gpr " << i;
    EXPECT_EQ(translated->state.rflags, interpreted->state.rflags);
    EXPECT_EQ(translated->state.cr2, interpreted->state.cr2);
    std::vector<std::uint8_t> a(2u << 20), b(2u << 20);
    EXPECT_TRUE(interpreted->memory.read_bytes(0, a));
    EXPECT_TRUE(translated->memory.read_bytes(0, b));
    EXPECT_TRUE(a == b) << "guest RAM differs between the tiers";
    return translated;
}

VcpuExit run_halted(Machine& machine) {
    const VcpuExit exit = machine.run();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    return exit;
}

using namespace Xbyak::util;

} // namespace

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
            c.inc(rbx);
            c.mov(rdx, rbx);
            c.cmp(rbx, 5); // flags the fault frame must show: live up to the block's end
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
    ASSERT_TRUE(machine.vcpu->set_state(machine.state));
    auto exit = std::async(std::launch::async, [&] { return machine.vcpu->run(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto kicked = std::chrono::steady_clock::now();
    machine.vcpu->kick();
    ASSERT_EQ(exit.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    const auto latency = std::chrono::steady_clock::now() - kicked;
    EXPECT_EQ(exit.get().kind, VcpuExit::Kind::Kicked);
    // The budget word makes it return within a few chained transitions; the bound leaves room
    // for a loaded CI machine.
    EXPECT_LT(latency, std::chrono::milliseconds(50));
    EXPECT_GT(machine.stats().translated_dispatches, 0u);
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
