// Emitter, control flow: block exits (chainable direct exits, indirect exits through the jump
// table), conditional branches, calls and returns.
#include "engine/soft/translator/emitter.hpp"

#include <cstring>

namespace vessel::soft::emit {

void Emitter::exit_to(std::uint64_t target, const std::uint8_t* branch) {
    swap_loans(); // (a region's side exit: the registers go back to their owners)
    // Only targets of this page are chained; one in the last 14 bytes may start a
    // page-crossing instruction, which goes stale with the next page too.
    const bool same_page = (target >> 12) == (m_out.linear >> 12) && (target & 0xfff) <= 4096 - 15;
    if (!same_page || m_sites == m_out.sites().size()) {
        mov(r14, target);
        exit_indirect();
        return;
    }
    // (Flags nothing after the exit reads need not be the guest's: block_translator's
    // live_after.)
    if (m_live != 0) restore_host_flags();
    ChainSite& site = m_out.sites()[m_sites++];
    site.target = target;
    Xbyak::Label out_of_budget, out_of_budget_fast, flag_safe_check, unchained;
    if (target > m_linear) {
        // A forward edge needs no budget check: every cycle of direct jumps has a backward
        // edge (to an address not above its branch), and indirect exits count in the stub.
        site.jump = const_cast<std::uint8_t*>(getCurr());
        if (branch != nullptr && branch[0] == 0x0f && (branch[1] & 0xf0) == 0x80) {
            std::int32_t displacement = 0;
            std::memcpy(&displacement, branch + 2, sizeof displacement);
            if (branch + 6 + displacement == site.jump) // it leads straight to this exit's jmp
                site.branch = const_cast<std::uint8_t*>(branch);
        }
        db(0xe9); // jmp rel32: to the next instruction until chained
        dd(0);
        store_rip(target);
        mov(r14, reinterpret_cast<std::uintptr_t>(&site));
        mov(qword[r15 + m_layout.exit_site], r14);
        jmp(m_runtime.common_exit());
        return;
    }
    // Every chained transition pays for a budget check. The flag-safe one (jrcxz touches no
    // flag) is the default; chaining switches to the short one (sub/jbe) when the target
    // overwrites the flags before it reads them or can fault.
    site.check = const_cast<std::uint8_t*>(getCurr());
    jmp(flag_safe_check, T_NEAR);
    sub(dword[r15 + m_layout.budget], 1);
    jbe(out_of_budget_fast, T_NEAR); // 0 left, or a kick stored 0 (sub borrows)
    site.fast_jump = const_cast<std::uint8_t*>(getCurr());
    jmp(unchained, T_NEAR);
    L(flag_safe_check);
    flag_safe_budget_check(out_of_budget);
    site.jump = const_cast<std::uint8_t*>(getCurr());
    db(0xe9); // jmp rel32: to the next instruction until chained
    dd(0);
    L(unchained);
    store_rip(target);
    mov(r14, reinterpret_cast<std::uintptr_t>(&site));
    mov(qword[r15 + m_layout.exit_site], r14);
    jmp(m_runtime.common_exit());
    L(out_of_budget);
    mov(rcx, qword[r15 + m_layout.spill]);
    L(out_of_budget_fast);
    store_rip(target);
    mov(qword[r15 + m_layout.exit_site], 0);
    jmp(m_runtime.common_exit());
}

void Emitter::flag_safe_budget_check(Xbyak::Label& out_of_budget) {
    mov(qword[r15 + m_layout.spill], rcx); // jrcxz touches no flag
    mov(ecx, dword[r15 + m_layout.budget]);
    jrcxz(out_of_budget); // (rcx still spilled there)
    lea(ecx, ptr[rcx - 1]);
    mov(dword[r15 + m_layout.budget], ecx);
    mov(rcx, qword[r15 + m_layout.spill]);
}

void Emitter::load_branch_target(const GuestInstruction& guest, const ZydisDecodedOperand& operand,
                                 Xbyak::Label& fallback) {
    if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        const int number = gpr_number(operand.reg.value);
        if (guest_in_host_register(static_cast<unsigned>(number)))
            mov(r14, host64(number));
        else
            mov(r14, home(static_cast<unsigned>(number)));
        return;
    }
    address(guest, operand, true);
    lookup(8, false, fallback);
    mov(r14, qword[looked_up()]);
}

void Emitter::exit_indirect() {
    // Flags still in the slot (or dead) stay there: the lookup would save them again at once.
    const bool flags_saved = !m_host_flags_valid;
    if (m_user)
        emit_jump_lookup(*this, m_layout, m_runtime.common_exit(), flags_saved);
    else
        jmp(flags_saved ? m_runtime.jump_stub_flags_saved() : m_runtime.jump_stub());
    m_host_flags_valid = true; // (as restore_host_flags leaves it: the paths after expect so)
}

void Emitter::conditional_jump(int condition, Xbyak::Label& label) {
    switch (condition) {
    case 0x0:
        jo(label);
        break;
    case 0x1:
        jno(label);
        break;
    case 0x2:
        jb(label);
        break;
    case 0x3:
        jnb(label);
        break;
    case 0x4:
        jz(label);
        break;
    case 0x5:
        jnz(label);
        break;
    case 0x6:
        jbe(label);
        break;
    case 0x7:
        jnbe(label);
        break;
    case 0x8:
        js(label);
        break;
    case 0x9:
        jns(label);
        break;
    case 0xa:
        jp(label);
        break;
    case 0xb:
        jnp(label);
        break;
    case 0xc:
        jl(label);
        break;
    case 0xd:
        jnl(label);
        break;
    case 0xe:
        jle(label);
        break;
    default:
        jnle(label);
        break;
    }
}

bool Emitter::control_flow(std::size_t k, GuestInstruction& guest) {
    const ZydisDecodedInstruction& instruction = guest.instruction;
    const ZydisDecodedOperand& operand = guest.operands[0];
    const bool relative = operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && operand.imm.is_relative;
    const std::uint64_t target = guest.next + static_cast<std::uint64_t>(operand.imm.value.s);
    const int condition = branch_condition(instruction.mnemonic);
    if (condition >= 0 && relative) {
        restore_host_flags();
        Xbyak::Label& other = new_label();
        const std::uint8_t* branch = getCurr(); // the jcc rel32 (a near jump by default)
        if (target <= guest.linear && (target >> 12) == (m_out.linear >> 12)) {
            // A loop's back edge: laid out as the fall-through, so a running loop takes one
            // branch per iteration (the chained jump back).
            conditional_jump(condition ^ 1, other);
            exit_to(target);
            L(other);
            exit_to(guest.next, branch);
        } else {
            conditional_jump(condition, other);
            exit_to(guest.next);
            L(other);
            exit_to(target, branch);
        }
        return true;
    }
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_JMP:
        if (relative) {
            exit_to(target);
            return true;
        }
        if (instruction.operand_width != 64 || !indirect_target_supported(operand)) return false;
        {
            Xbyak::Label& fallback = new_label();
            Xbyak::Label& after = new_label();
            load_branch_target(guest, operand, fallback);
            exit_indirect();
            L(after); // unreachable: the interpreted jmp leaves through the helper
            jmp(m_runtime.common_exit());
            fallback_path(k, guest, fallback, after);
        }
        return true;
    case ZYDIS_MNEMONIC_CALL: {
        if (instruction.operand_width != 64 || (!relative && !indirect_target_supported(operand)))
            return false;
        Xbyak::Label& fallback = new_label();
        Xbyak::Label& after = new_label();
        if (!relative) {
            load_branch_target(guest, operand, fallback);
            mov(qword[r15 + m_layout.branch_target], r14);
        }
        lea(r14, ptr[stack_pointer() - 8]);
        lookup(8, true, fallback);
        // (Flags to the slot before r13 holds the return address: the save uses r13.)
        save_flags(m_live); // the frame's compare below clobbers them
        m_host_flags_valid = false;
        mov(r13, guest.next);
        mov(qword[looked_up()], r13);
        adjust_stack(-8);
        // A return frame: the guest's return address and, by a host call, where its ret
        // continues (JitContext::entry_rsp), so that ret returns as the host predicts.
        Xbyak::Label& callee = new_label();
        cmp(rsp, qword[r15 + m_layout.frame_limit]);
        jbe(callee); // no room: the call leaves no frame, and its ret takes the jump table
        push(r13);
        call(callee);
        // The return point: a ret that matched the frame left the guest's flags in the slot,
        // where they stay unless the code at the return address reads them.
        m_host_flags_valid = false;
        m_slot_current = true;
        const std::uint32_t live = m_live;
        m_live = m_return_point_live;
        exit_to(guest.next);
        m_live = live;
        L(callee);
        m_host_flags_valid = false;
        m_slot_current = m_live != 0;
        if (relative) {
            exit_to(target);
        } else {
            mov(r14, qword[r15 + m_layout.branch_target]);
            exit_indirect();
        }
        L(after); // unreachable: the interpreted call leaves through the helper
        jmp(m_runtime.common_exit());
        fallback_path(k, guest, fallback, after);
        return true;
    }
    case ZYDIS_MNEMONIC_RET: {
        if (instruction.operand_width != 64) return false;
        const std::int64_t extra =
            operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? operand.imm.value.u : 0;
        Xbyak::Label& fallback = new_label();
        Xbyak::Label& after = new_label();
        if (!grouped_access(k, guest_rsp, 0, 8, false)) { // (the epilogue's pops' group)
            mov(r14, stack_pointer());
            lookup(8, false, fallback);
        }
        // (Flags to the slot before r13 holds the return address: the save uses r13.)
        save_flags(m_live); // the frame's compares below clobber them
        m_host_flags_valid = false;
        mov(r13, qword[looked_up()]);
        adjust_stack(static_cast<int>(8 + extra) + m_stack_pending); // (the epilogue's pops' too)
        m_stack_pending = 0;
        // The top return frame (if any) stands for this return address: back to its call's
        // return point with the host's ret. Else the jump table takes it; frames left behind go
        // with the next exit. (No budget check: a matched ret goes back to just after a call
        // made since translated code was entered, so a loop through it also passes that call,
        // and a cycle of calls and rets that only go forward cannot return to its start; each
        // cycle has a backward jump or an unmatched indirect branch, which look at the budget.)
        Xbyak::Label& unmatched = new_label();
        cmp(rsp, qword[r15 + m_layout.entry_rsp]);
        jae(unmatched);
        cmp(r13, qword[rsp + 8]);
        jne(unmatched);
        ret(8); // the guest's flags stay in the slot: the return point takes them if it reads any
        L(unmatched);
        mov(r14, r13);
        exit_indirect();
        L(after);
        store_rip(guest.next); // unreachable: the interpreted ret leaves through the helper
        jmp(m_runtime.common_exit());
        fallback_path(k, guest, fallback, after);
        return true;
    }
    default:
        return false;
    }
}

} // namespace vessel::soft::emit
