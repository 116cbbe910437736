// Emitter, loop regions (loop_region.hpp): the hoisted checks before the loop, branches that
// stay in the region with their other way as a side exit, and the back edge.
#include "engine/soft/translator/emitter.hpp"

namespace vessel::soft::emit {

void Emitter::region(std::span<GuestInstruction> instructions, std::span<const RegionLink> links,
                     const std::uint8_t* bail) {
    m_instructions = instructions;
    m_links = links;
    // Before the loop: the hoisted groups' checks. A check that fails (a page not in the JIT
    // TLB that the helper cannot fill, a range crossing a page) gives the loop to the head
    // block's own translation, which checks each access and raises what the guest must see.
    m_live = instructions.front().flags_live_in;
    m_linear = instructions.front().linear;
    Xbyak::Label& bail_out = new_label();
    swap_loans(); // the borrowers' values into the lenders' host registers
    bool hoisted = false;
    if (m_groups != nullptr && m_groups_enabled)
        for (std::size_t index = 0; index < m_groups->groups.size(); ++index)
            if (m_groups->groups[index].hoisted) {
                check_group(index, bail_out);
                ++m_out.hoisted_groups;
                hoisted = true;
            }
    if (hoisted) {
        const std::uint32_t live = m_live;
        m_cold.push_back([this, &bail_out, bail, live] {
            L(bail_out); // the guest's flags are in the slot (when live), the host's clobbered
            swap_loans();
            if (live != 0) emit_restore_flags();
            jmp(bail, T_NEAR);
        });
    }
    // (The body's flags are the guest's; or dead, when the loop overwrites them first.)
    if (m_out.flags_dead_at_entry || (m_groups != nullptr && loop_flags_dead()))
        m_host_flags_valid = true;
    restore_host_flags();
    Xbyak::Label& body = new_label();
    L(body);
    m_loop_body = &body;
    // The back edge comes here from the loop's end: the host flags hold the guest's, the slot
    // and r14 nothing known.
    m_host_flags_valid = true;
    m_slot_current = false;
    m_r14_group_end = nullptr;
    body_and_cold_paths();
}

void Emitter::region_branch(const GuestInstruction& guest, const RegionLink& link) {
    const ZydisDecodedInstruction& instruction = guest.instruction;
    const bool back_edge = &link == &m_links.back();
    const int condition = branch_condition(instruction.mnemonic);
    if (condition >= 0) {
        const std::uint64_t target =
            guest.next + static_cast<std::uint64_t>(guest.operands[0].imm.value.s);
        // Out of the region on the way that is not the link's (both ways may be the same).
        const bool leave_when_taken = link.next != target;
        const std::uint64_t away = leave_when_taken ? target : guest.next;
        if (away != link.next) {
            restore_host_flags();
            Xbyak::Label& leave = new_label();
            const std::uint8_t* branch = getCurr(); // the jcc rel32 (near by default)
            conditional_jump(leave_when_taken ? condition : condition ^ 1, leave);
            const std::uint64_t linear = m_linear;
            const bool slot_current = m_slot_current;
            m_cold.push_back([this, &leave, branch, away, linear, slot_current] {
                const bool host_valid = m_host_flags_valid;
                const bool slot = m_slot_current;
                const std::uint32_t live = m_live;
                const std::uint64_t at = m_linear;
                L(leave);
                m_host_flags_valid = true;
                m_slot_current = slot_current;
                m_live = arithmetic_mask;
                m_linear = linear;
                exit_to(away, branch);
                m_host_flags_valid = host_valid;
                m_slot_current = slot;
                m_live = live;
                m_linear = at;
            });
        }
    }
    if (back_edge) loop_back();
}

bool Emitter::loop_flags_dead() const {
    // A hoisted group's member cannot fault in the loop: its page was checked before it (an
    // access wider than 64 bits may still be checked for alignment).
    return flags_dead_at_entry(m_instructions, [this](std::size_t k) {
        const AccessRole& role = m_groups->roles[k];
        return role.group >= 0 && role.size <= 8 &&
               m_groups->groups[static_cast<std::size_t>(role.group)].hoisted;
    });
}

void Emitter::loop_back() {
    restore_host_flags();
    Xbyak::Label out_of_budget;
    if (m_out.flags_dead_at_entry || (m_groups != nullptr && loop_flags_dead())) {
        // The loop overwrites the flags before it reads them or can fault: sub may clobber them.
        // (Round again unless 0 was left or a kick stored 0, where sub borrows.)
        sub(dword[r15 + m_layout.budget], 1);
        ja(*m_loop_body, T_NEAR);
    } else {
        flag_safe_budget_check(out_of_budget);
        jmp(*m_loop_body, T_NEAR);
        L(out_of_budget);
        mov(rcx, qword[r15 + m_layout.spill]);
    }
    swap_loans();
    store_rip(m_out.linear);
    mov(qword[r15 + m_layout.exit_site], 0);
    jmp(m_runtime.common_exit());
}

} // namespace vessel::soft::emit
