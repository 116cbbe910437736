// Translated user code through page aliases: pages that share an alias slot keep their bytes
// (a way's move ends the entries of the page it held), two stay mapped in the slot's two ways,
// two of one position in the window keep theirs too, and an overlapping copy whose first access
// misses the JIT TLB sees one mapping of its page.
#include <gtest/gtest.h>

#include "engine/soft/translator/translator_test_machine.hpp"

namespace vessel::soft::translator_testing {
namespace {

using namespace Xbyak::util;

constexpr std::uint64_t present_writable_user = 0x7;
constexpr std::uint64_t user_code = SoftTestMachine::code_address;
constexpr std::uint64_t page_a = 0x100000;
/// The same JIT TLB index and alias slot as page_a, 16 and 32 MiB above it.
constexpr std::uint64_t page_b = page_a + PageAliases::slot_span;
constexpr std::uint64_t page_c = page_a + 2 * PageAliases::slot_span;
/// page_a's position in the alias window too (the same low 32 bits), 4 GiB above it.
constexpr std::uint64_t page_d = page_a + PageAliases::window_size;
constexpr std::uint64_t page_d_physical = 0x103000;
constexpr std::uint64_t far_tables = 0x1e0000; ///< a directory and a table for 4-6 GiB
constexpr std::uint64_t page_b_physical = 0x101000;
constexpr std::uint64_t page_c_physical = 0x102000;
constexpr std::uint64_t high_tables = 0x1f0000; ///< 4 KiB pages for 16-18 and 32-34 MiB
constexpr std::uint64_t copy_pages = 0x110000;  ///< 4 pages the copy test moves over
constexpr std::uint32_t rounds = 400;

/// Maps `linear` to `physical` for user code through its own page table at `table`.
void map_high(Machine& m, std::uint64_t linear, std::uint64_t physical, std::uint64_t table) {
    ASSERT_TRUE(
        m.memory.write<std::uint64_t>(page_tables + 0x2000 + 8 * (linear >> 21), table | 7));
    ASSERT_TRUE(m.memory.write<std::uint64_t>(table + 8 * ((linear >> 12) & 511),
                                              physical | present_writable_user));
}

/// Makes `m` run 64-bit user code at user_code (CPL 3) on user pages, with pages a, b and c.
void enter_user_mode(Machine& m) {
    ASSERT_TRUE(m.memory.write<std::uint64_t>(page_tables, (page_tables + 0x1000) | 7));
    ASSERT_TRUE(m.memory.write<std::uint64_t>(page_tables + 0x1000, (page_tables + 0x2000) | 7));
    ASSERT_TRUE(m.memory.write<std::uint64_t>(page_tables + 0x2000, page_table | 7));
    map_high(m, page_b, page_b_physical, high_tables);
    map_high(m, page_c, page_c_physical, high_tables + 0x1000);
    m.map(page_a, page_a, present_writable_user);
    for (std::uint64_t page = 0; page < 4; ++page)
        m.map(copy_pages + (page << 12), copy_pages + (page << 12), present_writable_user);
    m.map(user_code, user_code, present_writable_user);
    ASSERT_TRUE(
        m.memory.write<std::uint64_t>(SoftTestMachine::gdt_address + 0x30, 0x00affa000000ffff));
    m.state.gdt.limit = 0x37;
    m.state.cs = x86::flat_segment(0x33, 0xb, true);
    m.state.cs.dpl = 3;
    m.state.ss = m.state.ds = m.state.es = x86::flat_segment(0x2b, 0x3, false);
    m.state.ss.dpl = m.state.ds.dpl = m.state.es.dpl = 3;
}

/// Maps page_d (page_a's position in the alias window, 4 GiB above it) for user code.
void map_far_page(Machine& m) {
    ASSERT_TRUE(
        m.memory.write<std::uint64_t>(page_tables + 0x1000 + 8 * (page_d >> 30), far_tables | 7));
    ASSERT_TRUE(m.memory.write<std::uint64_t>(far_tables, (far_tables + 0x1000) | 7));
    ASSERT_TRUE(m.memory.write<std::uint64_t>(far_tables + 0x1000 + 8 * ((page_d >> 12) & 511),
                                              page_d_physical | present_writable_user));
}

/// Runs `body` as user code on `m` until its hlt, which at CPL 3 (#GP with no TSS to switch
/// stacks with) ends in a shutdown.
void run_user(Machine& m, const std::function<void(Xbyak::CodeGenerator&)>& body) {
    if (m.soft_vcpu().translator() == nullptr) {
        soft::Translator::Options options;
        options.hot_threshold = 1;
        ASSERT_TRUE(m.soft_vcpu().enable_translator(options));
    }
    enter_user_mode(m);
    m.assemble(user_code, [&](Xbyak::CodeGenerator& c) {
        body(c);
        c.hlt();
    });
    const VcpuExit exit = m.run();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown) << exit.message;
}

/// Rounds that each read page_a, add into page_b twice (and page_c, with `three`), read page_a
/// again and add into it: pages of one alias slot, all hot.
std::unique_ptr<Machine> run_rounds(bool three) {
    const auto program = [three](Machine& m) {
        ASSERT_TRUE(m.memory.write<std::uint32_t>(page_a, 5));
        ASSERT_TRUE(m.memory.write<std::uint32_t>(page_b_physical, 1000));
        ASSERT_TRUE(m.memory.write<std::uint32_t>(page_c_physical, 2000));
        run_user(m, [three](Xbyak::CodeGenerator& c) {
            c.mov(rsi, page_a);
            c.mov(rdi, page_b);
            c.mov(rbx, page_c);
            c.mov(ecx, rounds);
            Xbyak::Label round;
            c.L(round);
            // (rsi written between its uses: one access per run, so no access group)
            c.mov(eax, c.dword[rsi]);
            c.add(c.dword[rdi], eax);
            c.add(c.dword[rdi + 4], eax); // a group on page_b, in either way
            if (three) c.add(c.dword[rbx], eax);
            c.mov(rsi, page_a);
            c.mov(edx, c.dword[rsi]);
            c.mov(rsi, page_a);
            c.add(c.dword[rsi + 4], edx);
            c.dec(ecx);
            c.jnz(round);
        });
    };
    auto m = run_on_both(program);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_b_physical).value(), 1000u + rounds * 5);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_b_physical + 4).value(), rounds * 5);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_c_physical).value(),
              three ? 2000u + rounds * 5 : 2000u);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_a + 4).value(), rounds * 5);
    EXPECT_EQ(m->reg(x86::rdx), 5u);
    return m;
}

TEST(PageAliasesTranslated, TwoHotPagesOfOneSlotStayMappedInItsTwoWays) {
    auto m = run_rounds(false);
    const PageAliases* aliases = m->soft_vcpu().core().page_aliases();
    ASSERT_NE(aliases, nullptr);
    // page_a, page_b and the code page (another slot): no slot moves back and forth.
    EXPECT_LE(aliases->remaps(), 4u);
    EXPECT_EQ(aliases->refusals(), 0u);
}

TEST(PageAliasesTranslated, ThreeHotPagesOfOneSlotKeepTheirBytesAndMoveItOnlyNowAndThen) {
    // Two ways for three pages: a way moves only after settle_fills fills, and when it does,
    // the entry of the page it held must go, or the next access to that page would reach the
    // new page's bytes.
    auto m = run_rounds(true);
    const PageAliases* aliases = m->soft_vcpu().core().page_aliases();
    ASSERT_NE(aliases, nullptr);
    EXPECT_GE(aliases->remaps(), 6u); // moved several times, so every order ran
    EXPECT_LE(aliases->remaps(), 3 * rounds / PageAliases::settle_fills + 6);
    EXPECT_GT(aliases->refusals(), rounds / 2);
}

TEST(PageAliasesTranslated, AGroupsPageKeepsItsAliasWhileAPageOfItsPositionFills) {
    // The group on page_a reaches it through its alias; between its members, page_d (page_a's
    // position, 4 GiB above) fills, and the way holding that position is the only one it may
    // take. page_a's way is pinned (JitContext::alias_pins), so page_d is refused a way (the
    // interpreter serves it): moved, the second member would write page_d's bytes.
    const auto program = [](Machine& m) {
        map_far_page(m);
        ASSERT_TRUE(m.memory.write<std::uint32_t>(page_a, 5));
        ASSERT_TRUE(m.memory.write<std::uint32_t>(page_d_physical, 1000));
        run_user(m, [](Xbyak::CodeGenerator& c) {
            c.mov(rdi, page_d);
            c.mov(ecx, rounds);
            Xbyak::Label round;
            c.L(round);
            c.mov(rsi, page_a);
            c.mov(eax, c.dword[rsi]);     // the group's first member (its check: page_a)
            c.add(c.dword[rdi], eax);     // page_d, between the members
            c.add(c.dword[rsi + 4], eax); // the second, through page_a's alias
            c.dec(ecx);
            c.jnz(round);
        });
    };
    auto m = run_on_both(program);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_a + 4).value(), rounds * 5);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_d_physical).value(), 1000u + rounds * 5);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_d_physical + 4).value(), 0u);
    EXPECT_GT(m->stats().grouped_accesses, 0u);
}

TEST(PageAliasesTranslated, ATableLookupsTwoPagesKeepTheirAliasesWhileAPageOfOnesPositionFills) {
    // crc32's loop: a byte of page_a, then a read of a 1 KiB table at [rcx + rdi * 4] with rdi
    // from movzx (AccessGroup::indexed), checked once before the loop. The table straddles
    // page_a + 0x1000, whose frame is not the one after page_a's, and a page of that page's
    // position (4 GiB above) is written in the loop: its fill must leave the table's second
    // page where the loop's reads find it (the check pinned both pages).
    constexpr std::uint64_t table = page_a + 0xe00;
    constexpr std::uint64_t second_physical = 0x104000;
    constexpr std::uint64_t far_second = page_d + 0x1000; // table's second page's position
    constexpr std::uint32_t bytes = 0x800;
    constexpr std::uint32_t passes = 50;
    std::vector<std::uint8_t> data(bytes);
    for (std::uint32_t i = 0; i < bytes; ++i)
        data[i] = static_cast<std::uint8_t>(i * 37 + (i >> 8));
    std::uint32_t entries[256];
    for (std::uint32_t i = 0; i < 256; ++i)
        entries[i] = i * 0x9e3779b1u ^ (i << 7);
    std::uint32_t expected = 0;
    for (std::uint32_t pass = 0; pass < passes; ++pass)
        for (std::uint8_t byte : data)
            expected = entries[(byte ^ expected) & 0xff] ^ (expected >> 8);
    const auto program = [&](Machine& m) {
        map_far_page(m);
        ASSERT_TRUE(m.memory.write<std::uint64_t>(
            far_tables + 0x1000 + 8 * ((far_second >> 12) & 511), 0x105000 | 7));
        m.load(page_a, data);
        m.map(page_a + 0x1000, second_physical, present_writable_user);
        for (std::uint32_t i = 0; i < 256; ++i) {
            const std::uint64_t at = table + 4 * i;
            const std::uint64_t physical =
                at < page_a + 0x1000 ? at : at - page_a - 0x1000 + second_physical;
            ASSERT_TRUE(m.memory.write<std::uint32_t>(physical, entries[i]));
        }
        run_user(m, [&](Xbyak::CodeGenerator& c) {
            Xbyak::Label pass, loop, next;
            c.mov(rcx, table);
            c.xor_(eax, eax);
            c.mov(r9d, passes);
            c.L(pass);
            c.mov(rsi, page_a);
            c.lea(rdx, c.ptr[rsi + bytes]);
            c.L(loop);
            c.cmp(rsi, rdx);
            c.je(next);
            c.mov(dil, c.byte[rsi]);
            c.inc(rsi);
            c.xor_(edi, eax);
            c.shr(eax, 8);
            c.movzx(edi, dil);
            c.xor_(eax, c.dword[rcx + rdi * 4]);
            c.mov(rbx, far_second); // (written in the loop: no check of its own before it)
            c.add(c.dword[rbx], 1); // the page of the table's second page's position
            c.jmp(loop);
            c.L(next);
            c.dec(r9d);
            c.jnz(pass);
        });
    };
    auto m = run_on_both(program);
    EXPECT_EQ(m->reg(x86::rax), expected);
    EXPECT_EQ(m->memory.read<std::uint32_t>(0x105000).value(), passes * bytes);
    EXPECT_GE(m->stats().loop_regions, 1u);
    EXPECT_GE(m->stats().hoisted_groups, 1u);
}

TEST(PageAliasesTranslated, AnArrayElementReadAndWrittenThroughOnePairsCheckKeepsItsBytes) {
    // a[i] += i through [rsi + rcx * 4] in user code: both accesses address
    // gs:[esi + ecx * 4] after one check of the pair (base and index in host registers).
    const auto program = [](Machine& m) {
        run_user(m, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label round, loop;
            c.mov(rsi, page_a);
            c.mov(r9d, 20);
            c.L(round);
            c.xor_(ecx, ecx);
            c.L(loop);
            c.mov(eax, c.dword[rsi + rcx * 4]);
            c.add(eax, ecx);
            c.mov(c.dword[rsi + rcx * 4], eax);
            c.inc(ecx);
            c.cmp(ecx, 1024);
            c.jne(loop);
            c.dec(r9d);
            c.jnz(round);
        });
    };
    auto m = run_on_both(program);
    for (std::uint32_t i : {0u, 1u, 777u, 1023u})
        EXPECT_EQ(m->memory.read<std::uint32_t>(page_a + 4 * i).value(), 20 * i);
    EXPECT_GT(m->stats().grouped_accesses, 0u);
}

TEST(PageAliasesTranslated, APrologueAndEpilogueMovingRspOnceMatchTheInterpreter) {
    // A callee saving registers with moves between its pushes, and popping them back before
    // its ret: rsp moves once for the pushes, once for the pops and the ret together (the moves
    // are pending in between, Emitter::move_stack). rsp walks down across copy_pages + 0x2000
    // (the page below not the physical one below), so some rounds' groups straddle it and take
    // their fallbacks.
    const auto program = [](Machine& m) {
        run_user(m, [&m](Xbyak::CodeGenerator& c) {
            m.map(copy_pages + 0x1000, 0x104000, present_writable_user); // (after run_user's)
            Xbyak::Label loop, callee, done;
            c.mov(rsp, copy_pages + 0x2180);
            c.xor_(ebx, ebx);
            c.xor_(r8d, r8d);
            c.mov(ecx, 60);
            c.L(loop);
            c.mov(rdi, rcx);
            c.call(callee);
            c.add(r8, rax);
            c.lea(rsp, c.ptr[rsp - 8]); // 8 lower each round
            c.dec(ecx);
            c.jnz(loop);
            c.jmp(done);
            c.L(callee);
            c.push(r12);
            c.mov(r12d, edi);
            c.push(rbp);
            c.lea(rbp, c.ptr[rdi + 3]); // (lea: rsp's move applied before it)
            c.push(rbx);
            c.mov(rbx, rdi);
            c.add(rbx, r12);
            c.push(0x55);
            c.mov(rax, c.qword[rsp + 8]); // rbx pushed: the pending moves in its address
            c.add(rax, rbx);
            c.add(rax, rbp);
            c.pop(rdx);
            c.pop(rbx);
            c.mov(rsi, rdx);
            c.pop(rbp);
            c.pop(r12);
            c.ret();
            c.L(done);
        });
    };
    auto m = run_on_both(program);
    EXPECT_EQ(m->reg(8), 3u * (60 * 61 / 2) + 3u * 60); // rax = 0 + 2 rcx + (rcx + 3)
    EXPECT_GT(m->stats().grouped_accesses, 0u);
}

TEST(PageAliasesTranslated, TwoPagesOfOnePositionKeepTheirBytes) {
    // page_a and page_d have one position in the window: one way at a time may map it, and
    // when it takes the other page, the entry of the page it held must go (were page_d put in
    // the other way, page_a's entry would go on reaching page_d's bytes).
    const auto program = [](Machine& m) {
        map_far_page(m);
        ASSERT_TRUE(m.memory.write<std::uint32_t>(page_a, 5));
        ASSERT_TRUE(m.memory.write<std::uint32_t>(page_d_physical, 1000));
        run_user(m, [](Xbyak::CodeGenerator& c) {
            c.mov(rdi, page_d);
            c.mov(ecx, rounds);
            Xbyak::Label round;
            c.L(round);
            c.mov(rsi, page_a);
            c.mov(eax, c.dword[rsi]);
            c.add(c.dword[rdi], eax);
            c.mov(rsi, page_a);
            c.add(c.dword[rsi + 4], eax);
            c.dec(ecx);
            c.jnz(round);
        });
    };
    auto m = run_on_both(program);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_a).value(), 5u);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_a + 4).value(), rounds * 5);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_d_physical).value(), 1000u + rounds * 5);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_d_physical + 4).value(), 0u);
}

TEST(PageAliasesTranslated, AnOverlappingCopyThatMissesSeesOneMappingOfItsPage) {
    // rep movsb three bytes ahead of its source copies a repeating pattern, byte by byte. Each
    // round copies on a page the JIT TLB has not seen: the store's lookup misses and fills,
    // the load's hits; the two host addresses must be of one mapping, else the host's fast
    // string copy takes them for apart and copies the old bytes.
    const auto program = [](Machine& m) {
        for (std::uint64_t page = 0; page < 4; ++page) {
            const std::uint64_t at = copy_pages + (page << 12) + 0x5a;
            ASSERT_TRUE(m.memory.write<std::uint64_t>(at, 0x8877665544332211));
            ASSERT_TRUE(m.memory.write<std::uint64_t>(at + 8, 0));
        }
        run_user(m, [](Xbyak::CodeGenerator& c) {
            c.mov(rbx, copy_pages + 0x5a);
            c.mov(edx, 4);
            Xbyak::Label round;
            c.L(round);
            c.mov(rsi, rbx);
            c.lea(rdi, c.ptr[rbx + 3]);
            c.mov(ecx, 8);
            c.rep();
            c.movsb();
            c.add(rbx, 0x1000);
            c.dec(edx);
            c.jnz(round);
        });
    };
    auto m = run_on_both(program);
    for (std::uint64_t page = 0; page < 4; ++page)
        EXPECT_EQ(m->memory.read<std::uint64_t>(copy_pages + (page << 12) + 0x5a + 3).value(),
                  0x2211332211332211u)
            << "page " << page;
}

} // namespace
TEST(PageAliasesTranslated, ANonCanonicalAddressIsAGeneralProtectionFaultNotAHit) {
    // An empty JIT TLB entry's tag is 1 << 63: an address just above it (non-canonical, which
    // user code may well compute) must not pass the entry's check, or the access would reach
    // the alias window at that address's position instead of raising #GP.
    for (const std::uint64_t address :
         {std::uint64_t{0x8000000000000010}, std::uint64_t{0x8000000000000ff8}}) {
        const auto program = [address](Machine& m) {
            run_user(m, [address](Xbyak::CodeGenerator& c) {
                c.mov(rax, address);
                c.mov(ecx, 3);
                Xbyak::Label round;
                c.L(round);
                c.mov(rbx, c.qword[rax]);
                c.dec(ecx);
                c.jnz(round);
            });
        };
        auto m = run_on_both(program);
        EXPECT_EQ(m->reg(x86::rcx), 3u) << std::hex << address; // the first load faulted
    }
}

} // namespace vessel::soft::translator_testing
