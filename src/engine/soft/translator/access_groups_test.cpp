// Access groups: which accesses of a block share one TLB check (the plan), and that translated
// code using them ends exactly where the interpreter does: runs of pushes crossing a page, a
// page fault in the middle of a group, a group on a page holding code, an interpreted
// instruction between members.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <functional>
#include <vector>

#include "engine/soft/translator/access_groups.hpp"
#include "engine/soft/translator/translator_test_machine.hpp"

using namespace vessel;
using namespace vessel::soft;
using namespace vessel::soft::translator_testing;
using namespace Xbyak::util;

namespace {

/// Decodes the instructions `body` assembles, as analyze_block would hand them to the planner.
std::vector<GuestInstruction> decode(const std::function<void(Xbyak::CodeGenerator&)>& body) {
    Xbyak::CodeGenerator code(4096);
    body(code);
    ZydisDecoder decoder;
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    std::vector<GuestInstruction> out;
    const std::uint8_t* bytes = code.getCode();
    for (std::size_t at = 0; at < code.getSize();) {
        GuestInstruction& guest = out.emplace_back();
        EXPECT_TRUE(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, bytes + at, code.getSize() - at,
                                                        &guest.instruction, guest.operands)));
        guest.decoded = true;
        guest.bytes = bytes + at;
        at += guest.instruction.length;
    }
    return out;
}

AccessGroupPlan plan(const std::function<void(Xbyak::CodeGenerator&)>& body) {
    const std::vector<GuestInstruction> instructions = decode(body);
    AccessGroupPlan result;
    plan_access_groups(instructions, result);
    return result;
}

} // namespace

TEST(AccessGroupPlan, PushesShareOneCheckOfTheBytesTheyWrite) {
    const AccessGroupPlan p = plan([](Xbyak::CodeGenerator& c) {
        c.push(rbp);
        c.push(rbx);
        c.push(r12);
        c.push(0x12);
    });
    ASSERT_EQ(p.groups.size(), 1u);
    const AccessGroup& group = p.groups[0];
    EXPECT_EQ(group.base, 4);
    EXPECT_EQ(group.leader, 0u);
    EXPECT_EQ(group.last, 3u);
    EXPECT_EQ(group.low, -32);
    EXPECT_EQ(group.span, 32u);
    EXPECT_TRUE(group.write);
    EXPECT_EQ(p.roles[0].offset, -8);
    EXPECT_EQ(p.roles[3].offset, -32);
}

TEST(AccessGroupPlan, StackPointerArithmeticIsFollowed) {
    const AccessGroupPlan p = plan([](Xbyak::CodeGenerator& c) {
        c.sub(rsp, 0x20);
        c.mov(qword[rsp + 8], rdi);
        c.mov(qword[rsp + 16], rsi);
        c.add(rsp, 0x20);
        c.push(rax);
        c.lea(rsp, ptr[rsp + 8]);
        c.mov(rax, qword[rsp - 8]);
    });
    ASSERT_EQ(p.groups.size(), 1u);
    EXPECT_EQ(p.groups[0].leader, 1u);
    EXPECT_EQ(p.groups[0].last, 6u);
    EXPECT_EQ(p.roles[4].offset, 0x18); // push after add rsp, 0x20: 0x20 - 8
    EXPECT_EQ(p.roles[6].offset, 0x18); // the same slot read back after lea rsp, [rsp + 8]
    EXPECT_EQ(p.groups[0].low, 8);
    EXPECT_EQ(p.groups[0].span, 0x18u);
}

TEST(AccessGroupPlan, AnyOtherWriteOfTheBaseEndsTheGroup) {
    const AccessGroupPlan p = plan([](Xbyak::CodeGenerator& c) {
        c.mov(rax, qword[rbx + 8]);
        c.mov(rbx, qword[rbx]); // a member (it reads through the old rbx), then rbx changes
        c.mov(rcx, qword[rbx + 16]);
        c.imul(rsp, rsp, 1); // rsp by an unknown amount
        c.push(rdx);
    });
    ASSERT_EQ(p.groups.size(), 1u);
    EXPECT_EQ(p.groups[0].base, 3);
    EXPECT_EQ(p.groups[0].last, 1u);
    EXPECT_EQ(p.roles[2].group, -1);
    EXPECT_EQ(p.roles[4].group, -1);
}

TEST(AccessGroupPlan, GroupsOverlappingInPartTakeTwoSlotsAndTheFirstFallbackRunsOn) {
    const AccessGroupPlan p = plan([](Xbyak::CodeGenerator& c) {
        c.push(rbx);            // rsp group: 0-2
        c.mov(rax, qword[rdi]); // rdi group: 1-3 (overlaps the end of the first)
        c.push(rcx);
        c.mov(rdx, qword[rdi + 8]);
        c.mov(r8, qword[rsi]); // rsi group: 4-5, after both
        c.mov(r9, qword[rsi + 8]);
    });
    ASSERT_EQ(p.groups.size(), 3u);
    EXPECT_EQ(p.groups[0].base, 4);
    EXPECT_EQ(p.groups[1].base, 7);
    EXPECT_EQ(p.groups[2].base, 6);
    EXPECT_EQ(p.groups[0].slot, 0u);
    EXPECT_EQ(p.groups[1].slot, 1u); // live at once with the first
    EXPECT_EQ(p.groups[2].slot, 0u); // both ended: the first slot again
    // The rsp group's fallback passes over the rdi group's check: it joins after its end.
    EXPECT_EQ(p.groups[0].last, 2u);
    EXPECT_EQ(p.groups[0].fallback_last, 3u);
    EXPECT_EQ(p.groups[1].fallback_last, 3u);
    EXPECT_EQ(p.groups[2].fallback_last, 5u);
    EXPECT_EQ(p.roles[1].group, 1);
    EXPECT_EQ(p.roles[3].group, 1);
}

TEST(AccessGroupPlan, AChecksMovesBackToWhereTheFlagsAreDead) {
    // The compare's flags are live across the rbx accesses (cmov reads them): the check goes
    // before the compare, where none are live, over instructions that leave rbx alone. A lone
    // access with live flags becomes a group of one so; one whose base is written just before
    // it stays a plain access (its check cannot pass the write).
    std::vector<GuestInstruction> instructions = decode([](Xbyak::CodeGenerator& c) {
        c.mov(rax, rcx);               // 0
        c.cmp(edi, esi);               // 1: writes every flag
        c.mov(edx, dword[rbx + 0x78]); // 2: rbx group, flags live
        c.cmovae(esi, ecx);            // 3
        c.mov(rsi, qword[rbx + 0x18]); // 4
        c.cmp(edi, 3);                 // 5
        c.mov(r8, qword[rdx]);         // 6: rdx alone, flags live
        c.adc(r9, 0);                  // 7
        c.cmp(edi, 5);                 // 8
        c.mov(rdi, r10);               // 9: rdi written, flags live
        c.mov(r11, qword[rdi]);        // 10: rdi alone, flags live
        c.adc(r9, 0);                  // 11
    });
    // As analyze_block's liveness finds them: CF live from each compare to its reader.
    for (GuestInstruction& guest : instructions)
        guest.flags_live_in = 0;
    for (std::size_t k : {2u, 3u, 6u, 7u, 9u, 10u, 11u})
        instructions[k].flags_live_in = x86::rflags::cf;
    AccessGroupPlan p;
    plan_access_groups(instructions, p);
    ASSERT_EQ(p.groups.size(), 2u);
    EXPECT_EQ(p.groups[0].base, 3); // rbx
    EXPECT_EQ(p.groups[0].leader, 1u);
    EXPECT_EQ(p.groups[0].last, 4u);
    EXPECT_EQ(p.groups[1].base, 2); // rdx, one member
    EXPECT_EQ(p.groups[1].leader, 5u);
    EXPECT_EQ(p.groups[1].last, 6u);
    EXPECT_EQ(p.roles[6].group, 1);
    EXPECT_EQ(p.roles[10].group, -1);
}

TEST(AccessGroupPlan, ALoopsTableLookupWithAnIndexBoundedThatPassIsHoisted) {
    // In a loop region: [rcx + rdi * 4] after movzx edi, dil reads within 1 KiB of rcx (which
    // the loop never writes): checked once before the loop, on two pins. A range over a page
    // (a 16-bit index) and a store are not; an index the loop never writes makes a pair's
    // group, hoisted as well.
    Xbyak::Label head;
    const std::vector<GuestInstruction> instructions = decode([&head](Xbyak::CodeGenerator& c) {
        c.L(head);
        c.mov(dil, byte[rsi]);                   // 0
        c.inc(rsi);                              // 1
        c.movzx(edi, dil);                       // 2
        c.xor_(eax, dword[rcx + rdi * 4]);       // 3: the table lookup
        c.and_(r8d, 0x7fff);                     // 4
        c.movzx(r8d, word[rbp + r8 * 2 + 16]);   // 5: 64 KiB
        c.add(eax, dword[rcx + rdx * 4]);        // 6: rdx invariant
        c.mov(dword[rcx + rdi * 4 + 1024], eax); // 7: a store
        c.jmp(head);                             // 8
    });
    const RegionLink links[] = {{8, 0}};
    AccessGroupPlan p;
    plan_access_groups(instructions, p, links);
    ASSERT_EQ(p.roles.size(), instructions.size());
    ASSERT_GE(p.roles[3].group, 0);
    const AccessGroup& table = p.groups[static_cast<std::size_t>(p.roles[3].group)];
    EXPECT_TRUE(table.indexed);
    EXPECT_TRUE(table.hoisted);
    EXPECT_EQ(table.base, 1);
    EXPECT_EQ(table.low, 0);
    EXPECT_EQ(table.span, 1024u);
    EXPECT_NE(table.slot, table.second_slot);
    EXPECT_EQ(p.roles[3].index, 7);
    EXPECT_EQ(p.roles[3].scale, 4u);
    for (std::size_t k : {5u, 7u})
        EXPECT_EQ(p.roles[k].group, -1) << "instruction " << k;
    ASSERT_GE(p.roles[6].group, 0);
    const AccessGroup& pair = p.groups[static_cast<std::size_t>(p.roles[6].group)];
    EXPECT_FALSE(pair.indexed);
    EXPECT_TRUE(pair.hoisted);
    EXPECT_EQ(pair.index, 2);
}

TEST(AccessGroupPlan, NestedGroupsTakeTheNextSlot) {
    const AccessGroupPlan p = plan([](Xbyak::CodeGenerator& c) {
        c.push(rbx);
        c.mov(rax, qword[rdi]);
        c.mov(rdx, qword[rdi + 8]);
        c.push(rcx);
    });
    ASSERT_EQ(p.groups.size(), 2u);
    EXPECT_EQ(p.groups[0].slot, 0u);
    EXPECT_EQ(p.groups[1].slot, 1u);
}

TEST(AccessGroupPlan, AReadModifyWriteThroughABaseAndAnIndexSharesOneCheck) {
    // a[i] read, then written, then a[i + 1] read: one check of [rsi + rcx * 4, + 8), for
    // writing; once rcx moves, the pair's run ends.
    const AccessGroupPlan p = plan([](Xbyak::CodeGenerator& c) {
        c.mov(eax, dword[rsi + rcx * 4]);     // 0
        c.add(eax, 1);                        // 1
        c.mov(dword[rsi + rcx * 4], eax);     // 2
        c.mov(edx, dword[rsi + rcx * 4 + 4]); // 3
        c.inc(rcx);                           // 4
        c.mov(dword[rsi + rcx * 4], edx);     // 5
        c.mov(dword[rsi + rcx * 4 + 4], edx); // 6: with 5, a pair again
        c.mov(r8d, dword[rsi + rcx * 8]);     // 7: another scale
    });
    ASSERT_EQ(p.groups.size(), 2u);
    const AccessGroup& group = p.groups[0];
    EXPECT_EQ(group.base, 6);
    EXPECT_EQ(group.index, 1);
    EXPECT_EQ(group.scale, 4u);
    EXPECT_EQ(group.leader, 0u);
    EXPECT_EQ(group.last, 3u);
    EXPECT_EQ(group.low, 0);
    EXPECT_EQ(group.span, 8u);
    EXPECT_TRUE(group.write);
    EXPECT_EQ(p.groups[1].leader, 5u);
    EXPECT_EQ(p.groups[1].last, 6u);
    EXPECT_EQ(p.roles[2].group, 0);
    EXPECT_EQ(p.roles[2].index, 1);
    EXPECT_EQ(p.roles[7].group, -1);
}

TEST(AccessGroupPlan, RangesWiderThanTheLimitMovingIndexesSegmentsAndBarriersSplit) {
    const AccessGroupPlan p = plan([](Xbyak::CodeGenerator& c) {
        c.mov(rax, qword[rbx]);
        c.mov(rcx, qword[rbx + 200]); // beyond max_span from the first
        c.mov(rdx, qword[rsi + rcx * 8]);
        c.add(rcx, 1);
        c.mov(rdx, qword[rsi + rcx * 8 + 8]);
        c.db(0x64); // fs:
        c.mov(r8, qword[rdi]);
        c.db(0x64);
        c.mov(r9, qword[rdi + 8]);
        c.push(rax);
        c.stac();
        c.push(rbx);
    });
    EXPECT_TRUE(p.groups.empty());
}

namespace {

/// The test machine runs at CPL 0, where groups are off by default.
void kernel_groups(Machine& m) {
    if (soft::Translator* translator = m.soft_vcpu().translator())
        translator->set_kernel_access_groups(true);
}

/// Runs `body` as a loop of `iterations` so the translator takes it, on both tiers.
std::unique_ptr<Machine> run_loop(const std::function<void(Machine&)>& setup,
                                  const std::function<void(Xbyak::CodeGenerator&)>& body) {
    return run_on_both([&](Machine& m) {
        kernel_groups(m);
        setup(m);
        m.assemble(SoftTestMachine::code_address, [&](Xbyak::CodeGenerator& c) { body(c); });
        run_halted(m);
    });
}

} // namespace

TEST(AccessGroups, PushesAndPopsCrossingAPageBoundaryMatchTheInterpreter) {
    // rsp walks down 8 bytes an iteration across 0x1f0000: the group's range straddles the
    // page boundary for a few iterations, and its fallback must take those. The page below the
    // boundary is not the physical one below, so a range taken as one page would read and
    // write the wrong memory.
    auto machine = run_loop(
        [](Machine& m) {
            m.map(0x1ef000, 0x150000);
            m.state.gpr[x86::rsp] = 0x1f0040;
        },
        [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 40);
            c.L(loop);
            c.push(rcx);
            c.push(rax);
            c.push(rbx);
            c.add(rax, qword[rsp + 16]);
            c.pop(rbx);
            c.pop(rdx);
            c.pop(rsi);
            c.lea(rsp, ptr[rsp - 8]);
            c.add(rbx, rsi);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
    EXPECT_EQ(machine->reg(x86::rax), 820u); // 40 + 39 + ... + 1
    EXPECT_EQ(machine->reg(x86::rsp), 0x1f0040u - 8 * 40);
    EXPECT_GT(machine->stats().access_groups, 0u);
    EXPECT_GT(machine->stats().grouped_accesses, 0u);
}

TEST(AccessGroups, MembersAfterAnInstructionOnTwoMemoryHomedRegistersFindTheirPage) {
    // A member's host address comes from r14 as the group's check or the last member left it,
    // unless something in between wrote r14: here an add of two guest registers kept in memory
    // (r13 and r14 then pass through host r13 and r14).
    auto machine = run_loop(
        [](Machine& m) {
            m.state.gpr[x86::rbx] = 0x150000;
            m.state.gpr[13] = 0x10;
            m.state.gpr[14] = 0x0fff'0000; // a wild address, were it taken for the page
            ASSERT_TRUE(m.memory.write<std::uint64_t>(0x150000, 3));
            ASSERT_TRUE(m.memory.write<std::uint64_t>(0x150008, 4));
        },
        [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 40);
            c.L(loop);
            c.mov(rax, qword[rbx]);
            c.add(r13, r14);
            c.mov(rdx, qword[rbx + 8]);
            c.add(r14, r13);
            c.add(qword[rbx + 16], rax);
            c.sub(r14, r13);
            c.add(qword[rbx + 24], rdx);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
    EXPECT_EQ(machine->memory.read<std::uint64_t>(0x150010).value(), 3u * 40);
    EXPECT_EQ(machine->memory.read<std::uint64_t>(0x150018).value(), 4u * 40);
    EXPECT_GT(machine->stats().grouped_accesses, 0u);
}

TEST(AccessGroups, AnEpilogueWhoseReturnAddressIsOnTheNextPageMatchesTheInterpreter) {
    // Each round's pops and ret share a check; rsp walks up so that some rounds' return
    // address lies on the next page (not the physical page after): those take the group's
    // fallback, and every ret must still go where the interpreter's does.
    auto machine = run_loop(
        [](Machine& m) {
            m.map(0x1ef000, 0x150000);
            m.state.gpr[x86::rsp] = 0x1eff00;
        },
        [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop, callee;
            c.mov(ecx, 40);
            c.L(loop);
            c.push(rcx);
            c.push(rax);
            c.call(callee);
            c.add(rsp, 8);             // the two pushes stay below: rsp goes 8 lower each round...
            c.lea(rsp, ptr[rsp + 16]); // ...and 16 higher: 8 up per round, across 0x1f0000
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
            c.L(callee);
            c.pop(rdx); // the return address
            c.pop(rbx); // rax pushed
            c.pop(rsi); // rcx pushed
            c.push(rsi);
            c.push(rbx);
            c.push(rdx);
            c.add(rax, rsi);
            c.pop(rdx);
            c.pop(rbx);
            c.pop(rsi);
            c.sub(rsp, 24);
            c.ret();
        });
    EXPECT_EQ(machine->reg(x86::rax), 820u);
    EXPECT_EQ(machine->reg(x86::rsp), 0x1eff00u + 8 * 40);
    EXPECT_GT(machine->stats().grouped_accesses, 0u);
}

TEST(AccessGroups, AFallbackPassingOverAnotherGroupsCheckRunsToItsEnd) {
    // The rsp group (a push, a push, a pop, a load) and the rdi group (two loads) overlap in
    // part. rsp walks up 8 a round across 0x1f0000, whose page is not the physical page after
    // 0x1ef000: one round's rsp check fails and its fallback runs the instructions again
    // without groups, the rdi group's check among them. Joined at the rsp group's own end, the
    // rdi group's second load would take its page from the round before (rdi moves 16 a round).
    auto machine = run_loop(
        [](Machine& m) {
            m.map(0x1ef000, 0x150000);
            m.state.gpr[x86::rsp] = 0x1eff00;
            m.state.gpr[x86::rdi] = 0x160000;
            for (std::uint64_t i = 0; i < 40; ++i) {
                ASSERT_TRUE(m.memory.write<std::uint64_t>(0x160000 + 16 * i, i));
                ASSERT_TRUE(m.memory.write<std::uint64_t>(0x160008 + 16 * i, 1000 * i));
            }
        },
        [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 40);
            c.L(loop);
            c.push(rcx);
            c.mov(rdx, qword[rdi]);
            c.push(rdx);
            c.pop(rsi);
            c.mov(r8, qword[rsp]);      // rcx, pushed
            c.add(rbx, qword[rdi + 8]); // the rdi group's last member, after the rsp group's
            c.add(rbx, r8);
            c.add(rbx, rsi);
            c.add(rsp, 16);
            c.add(rdi, 16);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
    // 1000 * (0 + ... + 39) + (40 + ... + 1) + (0 + ... + 39)
    EXPECT_EQ(machine->reg(x86::rbx), 1000u * 780 + 820 + 780);
    EXPECT_EQ(machine->reg(x86::rsp), 0x1eff00u + 8 * 40);
    EXPECT_GT(machine->stats().grouped_accesses, 0u);
}

TEST(AccessGroups, PageFaultInTheMiddleOfAGroupIsPrecise) {
    // Each iteration moves rsp up 0x800; the third pop of iteration 14 is the first to reach
    // the unmapped page 0x1e0000 (the fault frame goes below rsp, on mapped memory).
    std::uint64_t faulting_rip = 0;
    auto machine = run_on_both([&faulting_rip](Machine& m) {
        kernel_groups(m);
        m.unmap(0x1e0000);
        m.state.gpr[x86::rsp] = 0x1dfff0 - 0x800 * 13;
        m.assemble(SoftTestMachine::code_address, [&faulting_rip](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.xor_(ebx, ebx);
            c.L(loop);
            c.inc(rbx);
            c.cmp(rbx, 3); // flags the fault frame must show
            c.pop(rax);
            c.pop(rcx);
            faulting_rip = SoftTestMachine::code_address + c.getSize();
            c.pop(rdx);
            c.pop(rsi);
            c.mov(r8, rbx);
            c.lea(rsp, ptr[rsp + 0x800 - 32]);
            c.jmp(loop);
        });
        run_halted(m);
    });
    EXPECT_EQ(machine->state.cr2, 0x1e0000u);
    EXPECT_EQ(machine->reg(x86::rbx), 14u);
    EXPECT_EQ(machine->reg(8), 13u); // the instruction after the fault did not run
    const std::uint64_t frame = machine->reg(x86::rsp);
    EXPECT_EQ(machine->memory.read<std::uint64_t>(frame).value(), 0u); // not present, read
    EXPECT_EQ(machine->memory.read<std::uint64_t>(frame + 8).value(), faulting_rip);
    EXPECT_EQ(machine->memory.read<std::uint64_t>(frame + 32).value(), 0x1e0000u); // rsp then
    const std::uint64_t flags = machine->memory.read<std::uint64_t>(frame + 24).value();
    EXPECT_EQ(flags & (x86::rflags::zf | x86::rflags::cf | x86::rflags::sf), 0u); // 14 > 3
    EXPECT_GT(machine->stats().grouped_accesses, 0u);
}

TEST(AccessGroups, AGroupOnAPageHoldingCodeLeavesEveryStoreToTheSlowPath) {
    // The stack shares the code's page: stores there must go where the translator sees them.
    auto machine =
        run_loop([](Machine& m) { m.state.gpr[x86::rsp] = SoftTestMachine::code_address + 0xf00; },
                 [](Xbyak::CodeGenerator& c) {
                     Xbyak::Label loop;
                     c.mov(ecx, 50);
                     c.L(loop);
                     c.push(rcx);
                     c.push(rax);
                     c.pop(rdx);
                     c.pop(rsi);
                     c.add(rax, rsi);
                     c.dec(ecx);
                     c.jnz(loop);
                     c.hlt();
                 });
    EXPECT_EQ(machine->reg(x86::rax), 1275u);
}

TEST(AccessGroups, AnInterpretedInstructionBetweenMembersKeepsTheirResults) {
    auto machine = run_loop(
        [](Machine& m) {
            m.state.gpr[x86::rsp] = 0x180000;
            m.state.gpr[x86::rsi] = 0x100000;
            m.state.gpr[x86::rdi] = 0x140000;
        },
        [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 30);
            c.L(loop);
            c.push(rcx);
            c.movsb(); // not translated: the interpreter runs it between the pushes
            c.push(rsi);
            c.mov(rax, qword[rsp + 8]);
            c.add(rbx, rax);
            c.lea(rsp, ptr[rsp + 16]);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
    EXPECT_EQ(machine->reg(x86::rbx), 465u);
}

TEST(AccessGroups, ACheckBeforeTheCompareWhoseRangeCrossesAPageFallsBackThroughTheCompare) {
    // The rsp group's check precedes the compare (its flags are live across the members); as
    // rsp walks down across 0x1f0000 the range straddles the boundary, the check fails, and the
    // fallback runs from the check's place: the compare again, then each access looked up. The
    // page below the boundary is not the physical one below.
    auto machine = run_loop(
        [](Machine& m) {
            m.map(0x1ef000, 0x150000);
            m.state.gpr[x86::rsp] = 0x1f0100;
        },
        [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.mov(ecx, 40);
            c.L(loop);
            c.cmp(ecx, 20);
            c.mov(rdx, qword[rsp - 16]);
            c.mov(qword[rsp - 32], rcx);
            c.adc(rbx, rdx); // CF from the compare: ecx < 20
            c.lea(rsp, ptr[rsp - 8]);
            c.dec(ecx);
            c.jnz(loop);
            c.hlt();
        });
    EXPECT_GT(machine->stats().grouped_accesses, 0u);
    EXPECT_GT(machine->stats().native_ops, 0u);
}

TEST(AccessGroups, AReadModifyWriteOfAnArrayElementCrossingAPageMatchesTheInterpreter) {
    // zlib's hash-table slide: a[i] read, clamped, written back, through one pair's check. The
    // array starts at an odd address below 0x1f0000, whose page below is not the physical one
    // below: the element across the boundary makes the check fail and the fallback take it.
    auto machine = run_loop(
        [](Machine& m) {
            m.map(0x1ef000, 0x150000);
            m.state.gpr[x86::rsi] = 0x1eff01;
        },
        [](Xbyak::CodeGenerator& c) {
            Xbyak::Label loop;
            c.xor_(ecx, ecx);
            c.mov(edi, 0x7000);
            c.L(loop);
            c.mov(ax, word[rsi + rcx * 2]);
            c.add(ax, cx);
            c.cmp(ax, di);
            c.cmovb(eax, edi);
            c.add(ax, 0x1234);
            c.mov(word[rsi + rcx * 2], ax);
            c.inc(rcx);
            c.cmp(rcx, 0x100);
            c.jne(loop);
            c.hlt();
        });
    EXPECT_GT(machine->stats().grouped_accesses, 0u);
}

TEST(AccessGroups, FlagsLiveAcrossGroupedAlignedAccessesSurviveTheAlignmentCheck) {
    // A grouped access leaves the host flags in place; the alignment test of movdqa must not
    // clobber the compare's flags that adc reads after it.
    auto machine = run_loop([](Machine& m) { m.state.gpr[x86::rsp] = 0x180000; },
                            [](Xbyak::CodeGenerator& c) {
                                Xbyak::Label loop;
                                c.mov(ecx, 40);
                                c.L(loop);
                                c.cmp(ecx, 20);
                                c.movdqa(xmm0, ptr[rsp - 32]);
                                c.movdqa(ptr[rsp - 48], xmm0);
                                c.adc(rbx, 0); // CF from the compare: ecx < 20
                                c.dec(ecx);
                                c.jnz(loop);
                                c.hlt();
                            });
    EXPECT_EQ(machine->reg(x86::rbx), 19u);
    EXPECT_GT(machine->stats().grouped_accesses, 0u);
}
