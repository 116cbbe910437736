// Translated user code through page aliases: two linear pages that share an alias slot take
// turns in it, a store's slot change ends the other page's read entry, and an overlapping copy
// whose first access misses the JIT TLB sees one mapping of its page.
#include <gtest/gtest.h>

#include "engine/soft/translator/translator_test_machine.hpp"

namespace vessel::soft::translator_testing {
namespace {

using namespace Xbyak::util;

constexpr std::uint64_t present_writable_user = 0x7;
constexpr std::uint64_t user_code = SoftTestMachine::code_address;
constexpr std::uint64_t page_a = 0x100000;
/// The same JIT TLB entry and alias slot as page_a, 16 MiB above it.
constexpr std::uint64_t page_b = page_a + PageAliases::window_size;
constexpr std::uint64_t page_b_physical = 0x101000;
constexpr std::uint64_t high_table = 0x1f0000; ///< 4 KiB pages for 16-18 MiB
constexpr std::uint64_t copy_pages = 0x110000; ///< 4 pages the copy test moves over
constexpr std::uint32_t rounds = 400;

/// Makes `m` run 64-bit user code at user_code (CPL 3) on user pages, with page_a and page_b.
void enter_user_mode(Machine& m) {
    ASSERT_TRUE(m.memory.write<std::uint64_t>(page_tables, (page_tables + 0x1000) | 7));
    ASSERT_TRUE(m.memory.write<std::uint64_t>(page_tables + 0x1000, (page_tables + 0x2000) | 7));
    ASSERT_TRUE(m.memory.write<std::uint64_t>(page_tables + 0x2000, page_table | 7));
    ASSERT_TRUE(
        m.memory.write<std::uint64_t>(page_tables + 0x2000 + 8 * (page_b >> 21), high_table | 7));
    ASSERT_TRUE(m.memory.write<std::uint64_t>(high_table + 8 * ((page_b >> 12) & 511),
                                              page_b_physical | present_writable_user));
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

TEST(PageAliasesTranslated, TwoHotPagesOfOneSlotKeepTheirBytesAndMoveItOnlyNowAndThen) {
    // Each round reads page_a, adds into page_b, reads page_a again and adds into it. The slot
    // serves one page at a time and moves to the other only after settle_fills fills: when it
    // moves to page_b, page_a's read entry must go, or the next read of page_a would see
    // page_b's bytes.
    const auto program = [](Machine& m) {
        ASSERT_TRUE(m.memory.write<std::uint32_t>(page_a, 5));
        ASSERT_TRUE(m.memory.write<std::uint32_t>(page_b_physical, 1000));
        run_user(m, [](Xbyak::CodeGenerator& c) {
            c.mov(rsi, page_a);
            c.mov(rdi, page_b);
            c.mov(ecx, rounds);
            Xbyak::Label round;
            c.L(round);
            c.mov(eax, c.dword[rsi]);
            c.add(c.dword[rdi], eax);
            c.mov(edx, c.dword[rsi]);
            c.add(c.dword[rsi + 4], edx);
            c.dec(ecx);
            c.jnz(round);
        });
    };
    auto m = run_on_both(program);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_b_physical).value(), 1000u + rounds * 5);
    EXPECT_EQ(m->memory.read<std::uint32_t>(page_a + 4).value(), rounds * 5);
    EXPECT_EQ(m->reg(x86::rdx), 5u);
    const PageAliases* aliases = m->soft_vcpu().core().page_aliases();
    ASSERT_NE(aliases, nullptr);
    // Moved back and forth several times (so both orders ran), but not on every access.
    EXPECT_GE(aliases->remaps(), 4u);
    EXPECT_LE(aliases->remaps(), 2 * rounds / PageAliases::settle_fills + 4);
    EXPECT_GT(aliases->refusals(), rounds / 2);
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
} // namespace vessel::soft::translator_testing
