// Loop regions: hot loops translated as one unit with the checks of their loop-invariant
// accesses hoisted before the loop must end exactly where the interpreter does: through side
// exits, when a hoisted check fails, on a page fault in the loop, under a kick, and when the loop
// rewrites its own code.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <functional>
#include <vector>

#include "engine/soft/translator/translator_test_machine.hpp"

using namespace vessel;
using namespace vessel::soft::translator_testing;
using namespace Xbyak::util;

namespace {

/// Regions hoist access groups' checks, and the test machine runs at CPL 0, where groups are
/// off by default.
void kernel_groups(Machine& m) {
    if (soft::Translator* translator = m.soft_vcpu().translator())
        translator->set_kernel_access_groups(true);
}

constexpr std::uint64_t chain = 0x100000;  ///< 32768 16-bit links: where each step goes next
constexpr std::uint64_t window = 0x110000; ///< 32 KiB of bytes compared at each step
constexpr std::uint32_t steps = 60000;

/// gzip's longest_match chain walk in miniature: three blocks (compare a byte, follow a link,
/// count down) whose loop-invariant stack reads ([rsp + 0x17], [rsp + 0x1c]) are checked once
/// before the loop, with a rarely taken side exit (a match, counted in rcx) and a limit exit.
/// `stack` is rsp; `physical` gives where its bytes are.
void chain_walk(Machine& m, std::uint64_t stack,
                const std::function<std::uint64_t(std::uint64_t)>& physical) {
    std::vector<std::uint8_t> links(2 * 32768), bytes(32768);
    for (std::uint32_t i = 0; i < 32768; ++i) {
        const std::uint32_t next = (i * 7919 + 13) & 0x7fff;
        links[2 * i] = static_cast<std::uint8_t>(next);
        links[2 * i + 1] = static_cast<std::uint8_t>(next >> 8);
        bytes[i] = static_cast<std::uint8_t>((i * 31) % 17 == 0 ? 0x41 : i);
    }
    m.load(chain, links);
    m.load(window, bytes);
    m.state.gpr[x86::rsp] = stack;
    EXPECT_TRUE(m.memory.write<std::uint8_t>(physical(stack + 0x17), 0x41));
    EXPECT_TRUE(m.memory.write<std::uint32_t>(physical(stack + 0x1c), 0x8000)); // never reached
    m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        Xbyak::Label loop, next, done;
        c.xor_(ecx, ecx);
        c.mov(r9d, steps);
        c.xor_(r8d, r8d);
        c.mov(edi, static_cast<std::uint32_t>(chain));
        c.L(loop);
        c.mov(edx, r8d);
        c.movzx(eax, byte[rsp + 0x17]);
        c.cmp(al, byte[rdx + static_cast<std::uint32_t>(window)]);
        c.jne(next);
        c.inc(ecx); // a match: the side exit's way, then into the next block's code
        c.L(next);
        c.and_(r8d, 0x7fff);
        c.movzx(r8d, word[rdi + r8 * 2]);
        c.cmp(r8d, dword[rsp + 0x1c]);
        c.jae(done);
        c.dec(r9d);
        c.jnz(loop);
        c.L(done);
        c.hlt();
    });
}

} // namespace

TEST(LoopRegion, AHotLoopOfThreeBlocksRunsAsOneRegionWithItsStackChecksHoisted) {
    auto machine = run_on_both([](Machine& m) {
        kernel_groups(m);
        chain_walk(m, 0x1eff00, [](std::uint64_t linear) { return linear; });
        run_halted(m);
    });
    EXPECT_GT(machine->reg(x86::rcx), 0u); // side exits taken
    EXPECT_GE(machine->stats().loop_regions, 1u);
    EXPECT_GE(machine->stats().hoisted_groups, 1u);
}

TEST(LoopRegion, AHoistedCheckOfARangeCrossingAPageGivesTheLoopToItsBlocks) {
    // [rsp + 0x17, rsp + 0x20) straddles 0x1f0000, and the page below is not the physical one
    // below: taken as one page, the byte at rsp + 0x17 would be read from the wrong memory.
    auto machine = run_on_both([](Machine& m) {
        kernel_groups(m);
        m.map(0x1ef000, 0x150000);
        chain_walk(m, 0x1f0000 - 0x1a, [](std::uint64_t linear) {
            return linear < 0x1f0000 ? linear - 0x1ef000 + 0x150000 : linear;
        });
        run_halted(m);
    });
    EXPECT_GT(machine->reg(x86::rcx), 0u);
    EXPECT_GE(machine->stats().loop_regions, 1u);
}

TEST(LoopRegion, APageFaultInsideARegionIsPrecise) {
    // Two blocks summing qwords 8 bytes apart, with a stack read checked before the loop; the
    // walk reaches the unmapped page 0x160000 long after the loop became a region.
    std::uint64_t faulting_rip = 0;
    auto machine = run_on_both([&faulting_rip](Machine& m) {
        kernel_groups(m);
        m.unmap(0x160000);
        m.state.gpr[x86::rsp] = 0x1eff00;
        EXPECT_TRUE(m.memory.write<std::uint64_t>(0x1eff08, 3));
        m.assemble(SoftTestMachine::code_address, [&faulting_rip](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, rare, back;
            c.mov(edi, 0x120000);
            c.xor_(ebx, ebx);
            c.L(loop);
            c.cmp(rbx, 12345); // flags live across the access: the fault frame must show them
            faulting_rip = SoftTestMachine::code_address + c.getSize();
            c.mov(rax, qword[rdi]);
            c.je(rare); // once, when rbx reaches 12345 (3 * 4115)
            c.L(back);
            c.add(rbx, qword[rsp + 8]);
            c.add(rdx, rax);
            c.add(rdi, 8);
            c.jmp(loop);
            c.L(rare);
            c.inc(rsi);
            c.jmp(back);
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->state.cr2, 0x160000u);
    EXPECT_EQ(machine->reg(x86::rdi), 0x160000u);
    EXPECT_EQ(machine->reg(x86::rbx), 3u * ((0x160000 - 0x120000) / 8));
    const std::uint64_t frame = machine->reg(x86::rsp);
    EXPECT_EQ(machine->memory.read<std::uint64_t>(frame + 8).value(), faulting_rip);
    const std::uint64_t flags = machine->memory.read<std::uint64_t>(frame + 24).value();
    EXPECT_EQ(flags & (x86::rflags::zf | x86::rflags::cf), 0u); // rbx > 12345 by then
    EXPECT_EQ(machine->reg(x86::rsi), 1u);                      // the side exit, once
    EXPECT_GE(machine->stats().loop_regions, 1u);
    EXPECT_GE(machine->stats().hoisted_groups, 1u);
}

TEST(LoopRegion, KickStopsARegionLoopQuickly) {
    Machine machine(SoftTier::Translator);
    kernel_groups(machine);
    machine.state.gpr[x86::rsp] = 0x1eff00;
    machine.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        Xbyak::Label loop;
        c.L(loop);
        c.add(rbx, qword[rsp + 8]);
        c.jmp(loop);
    });
    expect_a_kick_to_stop_it_quickly(machine);
    EXPECT_GE(machine.stats().loop_regions, 1u);
}

TEST(LoopRegion, ALoopRewritingItsOwnCodeRunsTheNewCode) {
    // After 30000 passes the loop stores a new immediate into its own body (a store to the
    // region's page, made through the interpreter: the page holds code).
    auto machine = run_on_both([](Machine& m) {
        kernel_groups(m);
        m.state.gpr[x86::rsp] = 0x1eff00;
        EXPECT_TRUE(m.memory.write<std::uint64_t>(0x1eff08, 2));
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, done;
            c.mov(ecx, 50000);
            c.L(loop);
            c.add(rbx, qword[rsp + 8]);
            const auto immediate =
                static_cast<std::uint32_t>(SoftTestMachine::code_address + c.getSize() + 1);
            c.mov(eax, 1);
            c.add(rsi, rax);
            c.dec(ecx);
            c.jz(done);
            c.cmp(ecx, 20000);
            c.jne(loop);
            c.mov(edx, immediate);
            c.mov(dword[rdx], 5); // the mov's imm32
            c.jmp(loop);
            c.L(done);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rsi), 30000u * 1 + 20000u * 5);
    EXPECT_EQ(machine->reg(x86::rbx), 2u * 50000);
    EXPECT_GE(machine->stats().loop_regions, 1u);
}

namespace {

/// A loop of two blocks naming the four memory-kept GPRs (r10, r13, r14, r15), whose host
/// registers rbx, rbp, r12 and rsi lend them, with a side exit every 256 passes into code
/// outside the region (which uses r15 and rbx itself). With `crossing_loads`, the loop also
/// loads a qword through r13 at a stride of 3: the loads that cross a page go to the
/// interpreter, which finds r13 in its memory home.
void borrowing_loop(Machine& m, bool crossing_loads) {
    kernel_groups(m);
    m.state.gpr[x86::rsp] = 0x1eff00;
    EXPECT_TRUE(m.memory.write<std::uint64_t>(0x1eff08, 3));
    std::vector<std::uint8_t> data(0x17000);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<std::uint8_t>(i * 13 + (i >> 12));
    m.load(0x100000, data);
    m.state.gpr[x86::rbx] = 0x1111;
    m.state.gpr[x86::rbp] = 0x2222;
    m.state.gpr[12] = 0x3333;
    m.state.gpr[x86::rsi] = 0x4444;
    m.assemble(SoftTestMachine::code_address, [crossing_loads](Xbyak::CodeGenerator& c) {
        Xbyak::Label loop, skip, rare;
        c.mov(ecx, 30000);
        c.mov(r13d, 1);
        c.xor_(r14d, r14d);
        c.xor_(r15d, r15d);
        c.mov(r10d, 5);
        c.L(loop);
        c.add(r13, qword[rsp + 8]);
        c.mov(r14, r13);
        c.and_(r14d, 0xff);
        c.cmp(r14d, 0x80);
        c.je(rare);
        c.L(skip);
        c.add(r10, r14);
        c.xor_(r15, r13);
        if (crossing_loads) c.add(r10, qword[r13 + 0x100000]);
        c.dec(ecx);
        c.jnz(loop);
        c.hlt();
        c.L(rare); // outside the region: its own registers
        c.add(r15, rbx);
        c.inc(rbx);
        c.jmp(skip);
    });
}

} // namespace

TEST(LoopRegion, MemoryKeptRegistersBorrowUnusedHostRegistersAndGiveThemBackAtEveryExit) {
    auto machine = run_on_both([](Machine& m) {
        borrowing_loop(m, false);
        run_halted(m);
    });
    EXPECT_GT(machine->reg(x86::rbx), 0x1111u); // the side exit ran with rbx its own
    EXPECT_EQ(machine->reg(x86::rbp), 0x2222u);
    EXPECT_EQ(machine->reg(12), 0x3333u);
    EXPECT_EQ(machine->reg(x86::rsi), 0x4444u);
    EXPECT_GE(machine->stats().loop_regions, 1u);
    EXPECT_EQ(machine->stats().register_loans, 4u * machine->stats().loop_regions);
}

TEST(LoopRegion, AnAccessTheInterpreterRunsInsideARegionSeesTheUsualRegisters) {
    auto machine = run_on_both([](Machine& m) {
        borrowing_loop(m, true);
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rbp), 0x2222u);
    EXPECT_GE(machine->stats().loop_regions, 1u);
    EXPECT_GE(machine->stats().register_loans, 4u);
}
