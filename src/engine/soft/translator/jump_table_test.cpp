// The translator's jump table: two-way sets, and the entries a single-page TLB flush or a store
// to code drops (LiveJumpEntries) while the others stay valid.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <memory>
#include <utility>
#include <vector>

#include "engine/soft/translator/jit_context.hpp"
#include "engine/soft/translator/translator_test_machine.hpp"

using namespace vessel;
using namespace vessel::soft::translator_testing;
using namespace Xbyak::util;

namespace {

/// Two 16-byte aligned addresses on different pages in the same set (found by search).
constexpr std::uint64_t first_target = 0x40000, colliding_target = 0x4a790;

/// A function at `address` that adds `amount` to rbx and returns.
void add_function(Machine& m, std::uint64_t address, std::uint32_t amount) {
    m.assemble(address, [amount](Xbyak::CodeGenerator& c) {
        c.add(ebx, amount);
        c.ret();
    });
}

} // namespace

TEST(JitJumpTable, TargetsOfOneSetBothStayAndTheLeastRecentlyFilledGoes) {
    ASSERT_EQ(soft::JitJumpTable::set(first_target), soft::JitJumpTable::set(colliding_target));
    auto table = std::make_unique<soft::JitJumpTable>();
    table->entry_for(first_target).rip = first_target;
    table->entry_for(colliding_target).rip = colliding_target;
    ASSERT_NE(table->find(first_target), nullptr);
    ASSERT_NE(table->find(colliding_target), nullptr);
    // Filling one that is there keeps both; a third target evicts the older one.
    table->entry_for(first_target).rip = first_target;
    EXPECT_NE(table->find(colliding_target), nullptr);
    std::uint64_t third = colliding_target + 16;
    while (soft::JitJumpTable::set(third) != soft::JitJumpTable::set(first_target))
        third += 16;
    table->entry_for(third).rip = third;
    EXPECT_NE(table->find(third), nullptr);
    EXPECT_NE(table->find(colliding_target), nullptr); // filled after first_target
    EXPECT_EQ(table->find(first_target), nullptr);
}

TEST(JitJumpTable, HashSpreadsTheTargetsOfOnePage) {
    // Every 16-byte aligned address of a page in its own set: no structure of the addresses
    // folds them together.
    std::vector<char> used(soft::JitJumpTable::set_count);
    unsigned distinct = 0;
    for (std::uint64_t rip = 0xffffffff81234000; rip < 0xffffffff81235000; rip += 16)
        distinct += std::exchange(used[soft::JitJumpTable::set(rip)], 1) == 0;
    EXPECT_GE(distinct, 250u);
}

TEST(Translator, IndirectTargetsOfOneSetBothStayInTheJumpTable) {
    auto machine = run_on_both([](Machine& m) {
        add_function(m, first_target, 1);
        add_function(m, colliding_target, 2);
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 300);
            c.xor_(ebx, ebx);
            c.mov(rdi, first_target);
            c.mov(rsi, colliding_target);
            c.L(loop);
            c.call(rdi);
            c.call(rsi);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(x86::rbx), 300u * 3);
    // Direct-mapped, the two calls evicted each other: a dispatcher exit each (600).
    EXPECT_LT(machine->stats().exits_lookup, 40u);
}

TEST(Translator, InvlpgOfAnotherPageKeepsTheJumpEntriesAndOfTheCodePageDropsThem) {
    auto machine = run_on_both([](Machine& m) {
        add_function(m, 0x6000, 1);
        add_function(m, 0x7000, 10);
        m.map(0x5000, 0x6000);
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, keep;
            c.mov(ecx, 300);
            c.xor_(ebx, ebx);
            c.mov(rdi, 0x5000);
            c.mov(rdx, 0x100000);
            c.L(loop);
            c.call(rdi);
            c.db(0x0f); // invlpg [rdx], a data page: the entry for 0x5000 stays
            c.db(0x01);
            c.db(0x3a);
            c.cmp(ecx, 100);
            c.jne(keep);
            c.mov(rsi, page_table + 8 * 5); // 0x5000 -> 0x7000
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
    EXPECT_EQ(machine->reg(x86::rbx), 201u * 1 + 99u * 10);
    const auto stats = machine->stats();
    EXPECT_LE(stats.jump_stamp_renewals, 2u); // the first dispatch's, and no more
    EXPECT_GT(stats.jump_entries_dropped, 250u);
    EXPECT_LT(stats.exits_lookup, 40u); // each invlpg voided the whole table before
}

TEST(Translator, StoreToCodeDropsTheJumpEntriesOfThatPageOnly) {
    auto machine = run_on_both([](Machine& m) {
        m.assemble(0x6000, [](Xbyak::CodeGenerator& c) {
            c.mov(eax, 1); // its immediate is rewritten to 7 halfway
            c.ret();
        });
        add_function(m, 0x7000, 10);
        m.assemble(SoftTestMachine::code_address, [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, keep;
            c.mov(ecx, 300);
            c.xor_(ebx, ebx);
            c.xor_(r8d, r8d);
            c.mov(rdi, 0x6000);
            c.mov(rsi, 0x7000);
            c.mov(rdx, 0x9000); // a third function, its byte rewritten as it is each time
            c.L(loop);
            c.call(rdi);
            c.add(r8, rax);
            c.call(rsi);
            c.mov(al, byte[rdx]);
            c.mov(byte[rdx], al);
            c.call(rdx);
            c.cmp(ecx, 100);
            c.jne(keep);
            c.mov(dword[rdi + 1], 7);
            c.L(keep);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
        m.assemble(0x9000, [](Xbyak::CodeGenerator& c) { c.ret(); });
        run_halted(m);
    });
    EXPECT_EQ(machine->reg(8), 201u * 1 + 99u * 7);
    EXPECT_EQ(machine->reg(x86::rbx), 300u * 10);
    const auto stats = machine->stats();
    EXPECT_LE(stats.jump_stamp_renewals, 2u); // each store voided the whole table before
    EXPECT_GT(stats.jump_entries_dropped, 250u);
}
