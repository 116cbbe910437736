// stac and clac in translated code (smap_instructions.hpp): at CPL 0 under a model with SMAP
// they run in the block (no interpreter call), a user page is open to supervisor accesses
// between them and closed after clac (#PF with the right error code and rip, from the same
// translated block); at CPL 3 and without SMAP in the model they raise #UD as in the
// interpreter.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include "engine/soft/protection_bits.hpp"
#include "engine/soft/translator/translator_test_machine.hpp"

using namespace vessel;
using namespace vessel::soft::translator_testing;
using namespace Xbyak::util;

namespace {

constexpr std::uint64_t user_page = 0x100000;
constexpr std::uint64_t supervisor_page = 0x150000;
constexpr std::uint64_t present_writable_user = 0x7;
constexpr std::uint32_t error_present = 1;

/// The translator tests' machine with user-accessible upper paging levels (the leaf entries
/// decide), SMAP on in CR4 under the max model, #UD to the halting handler, and `user_page`
/// a user page holding 5.
void enable_smap(Machine& m, soft::CpuModel model = soft::CpuModel::Max) {
    m.soft_vcpu().core().set_cpu_model(model);
    EXPECT_TRUE(m.memory.write<std::uint64_t>(page_tables, (page_tables + 0x1000) | 7));
    EXPECT_TRUE(m.memory.write<std::uint64_t>(page_tables + 0x1000, (page_tables + 0x2000) | 7));
    EXPECT_TRUE(m.memory.write<std::uint64_t>(page_tables + 0x2000, page_table | 7));
    m.map(user_page, user_page, present_writable_user);
    EXPECT_TRUE(m.memory.write<std::uint32_t>(user_page, 5));
    if (model == soft::CpuModel::Max || model == soft::CpuModel::V3)
        m.state.cr4 |= soft::protection::cr4_smap;
    m.set_idt_gate(6, handler_address, true, 0x18);
}

/// Instructions of `mnemonic` the translated code handed to the interpreter.
std::uint32_t interpreted(Machine& m, ZydisMnemonic mnemonic) {
    return m.soft_vcpu().core().jit.interpreted_by_mnemonic[mnemonic];
}

std::uint64_t frame_word(Machine& m, unsigned index) {
    return m.memory.read<std::uint64_t>(m.reg(x86::rsp) + 8 * index).value();
}

void stac(Xbyak::CodeGenerator& c) {
    c.db(0x0f), c.db(0x01), c.db(0xcb);
}
void clac(Xbyak::CodeGenerator& c) {
    c.db(0x0f), c.db(0x01), c.db(0xca);
}

} // namespace

TEST(TranslatedSmap, UserPageOpenBetweenStacAndClacAndFaultingAfterInTheSameBlock) {
    // One hot block: stac, a read and a write of the user page, clac, then a read through rdi,
    // which is a supervisor page for 39 rounds and the user page on the 40th: that read must
    // fault although the block's first read filled a TLB entry for the page while AC was set.
    std::uint64_t faulting = 0;
    auto machine = run_on_both([&faulting](Machine& m) {
        enable_smap(m);
        m.assemble(SoftTestMachine::code_address, [&faulting](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, missed;
            c.mov(rsi, user_page);
            c.mov(r9, supervisor_page);
            c.xor_(ebx, ebx);
            c.xor_(r8d, r8d);
            c.L(loop);
            c.inc(rbx);
            c.cmp(rbx, 50);
            c.je(missed); // the refused read did not fault: stop without a fault frame
            c.mov(rdi, r9);
            c.cmp(rbx, 40);
            c.cmove(rdi, rsi);
            stac(c);
            c.mov(ecx, dword[rsi]);
            c.lea(r8, ptr[r8 + rcx]); // keeps the flags of cmp rbx, 40 live through it all
            c.mov(dword[rsi + 4], ebx);
            clac(c);
            faulting = SoftTestMachine::code_address + c.getSize();
            c.mov(edx, dword[rdi]);
            c.setz(r11b);
            c.jmp(loop);
            c.L(missed);
            c.hlt();
        });
        run_halted(m);
    });
    Machine& m = *machine;
    ASSERT_EQ(m.state.rip, handler_address + 1) << "the read after clac did not fault";
    EXPECT_EQ(m.reg(x86::rbx), 40u);
    EXPECT_EQ(m.reg(8), 200u); // 40 reads of 5 with AC set
    EXPECT_EQ(m.memory.read<std::uint32_t>(user_page + 4).value(), 40u);
    EXPECT_EQ(frame_word(m, 0), error_present); // supervisor read of a present user page
    EXPECT_EQ(frame_word(m, 1), faulting);
    EXPECT_EQ(m.state.cr2, user_page);
    const std::uint64_t flags = frame_word(m, 3);
    EXPECT_EQ(flags & x86::rflags::ac, 0u);
    EXPECT_NE(flags & x86::rflags::zf, 0u); // cmp rbx, 40, across stac and clac
    EXPECT_GT(m.stats().blocks_translated, 0u);
    // stac never left the translated code (clac did, to close the windows the reads opened).
    EXPECT_EQ(interpreted(m, ZYDIS_MNEMONIC_STAC), 0u);
}

TEST(TranslatedSmap, StacAndClacWithoutUserAccessesStayInTheBlock) {
    std::uint64_t end = 0;
    auto machine = run_on_both([&end](Machine& m) {
        enable_smap(m);
        m.assemble(SoftTestMachine::code_address, [&end](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 200);
            c.L(loop);
            stac(c);
            clac(c);
            c.cmp(ecx, 7); // live flags through stac: jnz below reads dec's, adc reads cmp's
            stac(c);
            c.adc(r8, 0);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
            end = SoftTestMachine::code_address + c.getSize();
        });
        run_halted(m);
    });
    Machine& m = *machine;
    EXPECT_EQ(m.state.rip, end); // halted at the program's hlt
    EXPECT_NE(m.state.rflags & x86::rflags::ac, 0u) << "the last instruction of AC was stac";
    EXPECT_EQ(m.reg(8), 6u); // ecx 1 to 6 are below 7
    EXPECT_EQ(interpreted(m, ZYDIS_MNEMONIC_STAC), 0u);
    EXPECT_EQ(interpreted(m, ZYDIS_MNEMONIC_CLAC), 0u);
    EXPECT_GT(m.stats().native_ops, 0u);
}

TEST(TranslatedSmap, StacIsUndefinedWithoutSmapInTheModel) {
    for (ZydisMnemonic mnemonic : {ZYDIS_MNEMONIC_STAC, ZYDIS_MNEMONIC_CLAC}) {
        Machine m(SoftTier::Translator);
        soft::Translator::Options options;
        options.hot_threshold = 1; // the first run of the block is translated
        ASSERT_TRUE(m.soft_vcpu().enable_translator(options));
        enable_smap(m, soft::CpuModel::V2);
        m.assemble(SoftTestMachine::code_address, [mnemonic](Xbyak::CodeGenerator& c) {
            c.mov(eax, 1);
            mnemonic == ZYDIS_MNEMONIC_STAC ? stac(c) : clac(c);
            c.mov(eax, 2);
            c.hlt();
        });
        run_halted(m);
        ASSERT_EQ(m.state.rip, handler_address + 1);
        EXPECT_EQ(m.reg(x86::rax), 1u);
        EXPECT_EQ(frame_word(m, 0), SoftTestMachine::code_address + 5); // #UD: no error code
        EXPECT_EQ(m.state.rflags & x86::rflags::ac, 0u);
        EXPECT_GT(m.stats().blocks_translated, 0u);
    }
}

TEST(TranslatedSmap, StacIsUndefinedAtCpl3) {
    // 64-bit user code (a DPL 3 descriptor at 0x30) on user pages; #UD at CPL 3 has no TSS to
    // switch stacks with, so it ends in a shutdown with rip at the stac.
    Machine m(SoftTier::Translator);
    soft::Translator::Options options;
    options.hot_threshold = 1;
    ASSERT_TRUE(m.soft_vcpu().enable_translator(options));
    enable_smap(m);
    ASSERT_TRUE(
        m.memory.write<std::uint64_t>(SoftTestMachine::gdt_address + 0x30, 0x00affa000000ffff));
    m.state.gdt.limit = 0x37;
    m.map(SoftTestMachine::code_address, SoftTestMachine::code_address, present_writable_user);
    m.state.cs = x86::flat_segment(0x33, 0xb, true);
    m.state.cs.dpl = 3;
    m.state.ss = m.state.ds = m.state.es = x86::flat_segment(0x2b, 0x3, false);
    m.state.ss.dpl = m.state.ds.dpl = m.state.es.dpl = 3;
    m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
        c.mov(eax, 1);
        stac(c);
        c.mov(eax, 2);
        c.hlt();
    });
    const VcpuExit exit = m.run();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown) << exit.message;
    EXPECT_EQ(m.state.rip, SoftTestMachine::code_address + 5);
    EXPECT_EQ(m.reg(x86::rax), 1u);
    EXPECT_EQ(m.state.rflags & x86::rflags::ac, 0u);
    EXPECT_GT(m.stats().blocks_translated, 0u);
}
