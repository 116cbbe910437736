// Emitter, access groups (access_groups.hpp): one JIT TLB check for a run of accesses through
// the same base register, its members' host addresses from the checked page, and the fallback
// that runs the group's instructions with a lookup each when the check fails.
#include "engine/soft/translator/emitter.hpp"
#include "engine/soft/translator/instruction_classes.hpp"

namespace vessel::soft::emit {

static_assert(sizeof(JitContext::group_host) / sizeof(JitContext::group_host[0]) ==
                  AccessGroup::slots,
              "one JitContext::group_host entry per group slot");

void Emitter::begin_groups(std::size_t k) {
    if (m_groups == nullptr || !m_groups_enabled) return;
    // (A group's check may precede its first member, where the flags are dead; a hoisted
    // group's precedes the loop.)
    for (std::size_t index = 0; index < m_groups->groups.size(); ++index) {
        const AccessGroup& group = m_groups->groups[index];
        if (group.leader != k || group.hoisted) continue;
        GroupState& state = m_group_state[index];
        Xbyak::Label& fallback = new_label();
        check_group(index, fallback);
        state.checked = true;
        state.fallback = &fallback;
        state.host_flags_valid = m_host_flags_valid;
        state.slot_current = m_slot_current;
        state.vex_checked = m_vex_checked;
    }
}

void Emitter::check_group(std::size_t index, Xbyak::Label& fallback) {
    const AccessGroup& group = m_groups->groups[index];
    if (group.indexed) {
        // A table lookup's range may straddle two pages: its first and its last byte's pages
        // are looked up and pinned (the same page twice, when it does not). Its member reaches
        // either as gs:[base32 + index32 * scale + displacement].
        const Xbyak::Reg64 base(host_register_of(static_cast<unsigned>(group.base)));
        for (const auto& [at, slot] :
             {std::pair{group.low, group.slot},
              std::pair{group.low + static_cast<std::int32_t>(group.span) - 1,
                        group.second_slot}}) {
            lea(r14, ptr[base + at]);
            lookup(1, false, fallback);
            mov(qword[r15 + m_layout.alias_pins + static_cast<int>(8 * slot)], r14);
        }
        ++m_out.access_groups;
        m_group_state[index].active = true;
        return;
    }
    // r14 = the linear address of the group's lowest byte; the lookup asks for the whole span,
    // so a range crossing into another page misses and the helper refuses it.
    const auto base = static_cast<unsigned>(group.base);
    if (group.index >= 0) { // (a pair: both registers live in host registers)
        lea(r14, ptr[host64(group.base) + host64(group.index) * static_cast<int>(group.scale) +
                     group.low]);
    } else if (guest_in_host_register(base)) {
        lea(r14, ptr[host64(group.base) + group.low]);
    } else {
        mov(r14, home(base));
        lea(r14, ptr[r14 + group.low]);
    }
    // With page aliases the check is an aliased lookup (the members then reach the page as
    // gs:[...], the mapping every other access of user code uses: a load through one mapping of
    // a store just made through the other cannot take its bytes from the store buffer), and its
    // page's alias is pinned for the members' sake. Else RAM's own mapping.
    lookup(group.span, group.write, fallback, !m_page_aliases);
    if (m_page_aliases)
        mov(qword[r15 + m_layout.alias_pins + static_cast<int>(8 * group.slot)], r14);
    // Members of a register-based group address gs:[base32 + displacement]: the check and its
    // pin are all they need. The others take the base register's value's address from a slot.
    if (!register_based(group)) {
        if (group.low != 0) lea(r14, ptr[r14 - group.low]);
        mov(qword[r15 + m_layout.group_host + static_cast<int>(8 * group.slot)], r14);
        m_r14_group_end = getCurr();
        m_r14_group_slot = group.slot;
    }
    ++m_out.access_groups;
    m_group_state[index].active = true;
}

void Emitter::end_groups(std::size_t k, bool block_ended) {
    if (m_groups == nullptr || !m_groups_enabled) return;
    for (std::size_t index = 0; index < m_groups->groups.size(); ++index) {
        const AccessGroup& group = m_groups->groups[index];
        GroupState& state = m_group_state[index];
        // A block that ended inside a group (never planned: ranges hold no branch) takes the
        // group's fallback up to its end.
        if (!state.checked || state.joined || (group.fallback_last != k && !block_ended)) continue;
        flush_stack(); // (the fallback's pushes and pops moved rsp as they went)
        state.active = false;
        state.joined = true;
        state.join = getCurr();
        const bool join_host_valid = m_host_flags_valid;
        const bool join_slot_current = m_slot_current;
        const std::size_t leader = group.leader;
        m_cold.push_back([this, index, leader, k, join_host_valid, join_slot_current] {
            const GroupState entry = m_group_state[index];
            L(*entry.fallback);
            // The group's instructions once more, as they would be without groups.
            const bool host_valid = m_host_flags_valid;
            const bool slot_current = m_slot_current;
            const bool vex_checked = m_vex_checked;
            const std::uint32_t live = m_live;
            const std::uint64_t linear = m_linear;
            const std::uint32_t native = m_out.native_ops;
            const std::uint32_t fallbacks = m_out.fallback_ops;
            m_host_flags_valid = entry.host_flags_valid;
            m_slot_current = entry.slot_current;
            m_vex_checked = entry.vex_checked;
            m_groups_enabled = false;
            bool ended = false;
            for (std::size_t j = leader; j <= k && !ended; ++j) {
                m_live = m_instructions[j].flags_live_in;
                m_linear = m_instructions[j].linear;
                ended = instruction(j, m_instructions[j]);
            }
            if (!ended) {
                // Meet the main path's expectations at the join: where it has the guest's
                // flags in the host flags, or in the slot, so does this path.
                if (join_host_valid && !m_host_flags_valid) emit_restore_flags();
                if (join_slot_current && !m_slot_current) emit_save_guest_flags(*this, m_layout);
                jmp(entry.join);
            }
            m_groups_enabled = true;
            m_host_flags_valid = host_valid;
            m_slot_current = slot_current;
            m_vex_checked = vex_checked;
            m_live = live;
            m_linear = linear;
            m_out.native_ops = native; // the fallback's are not the block's
            m_out.fallback_ops = fallbacks;
        });
    }
}

bool Emitter::grouped_access(std::size_t k, int base, std::int64_t displacement, unsigned size,
                             bool write, bool register_base, int index_register, unsigned scale) {
    if (m_groups == nullptr || !m_groups_enabled) return false;
    const AccessRole& role = m_groups->roles[k];
    if (role.group < 0) return false;
    const auto index = static_cast<std::size_t>(role.group);
    const AccessGroup& group = m_groups->groups[index];
    // (A table lookup's member is served only through its registers, gs:[base32 + index32 *
    // scale + displacement]: its check covered its range, not one address.)
    if (!m_group_state[index].active || role.base != base || role.displacement != displacement ||
        size > role.size || (write && !group.write) || role.index != index_register ||
        (index_register >= 0 && role.scale != scale) ||
        (group.indexed && (!register_base || !register_based(group))))
        return false;
    m_member_index = -1;
    m_aliased_access = m_page_aliases;
    ++m_out.grouped_accesses;
    if (register_based(group)) {
        // The check covered the member's bytes at the base register's value then; the register
        // has moved by a known amount since, which the member's own displacement takes into
        // account: gs:[base32 + displacement] is its linear address (a member has no segment
        // override, user code's segments start at 0), with no slot to read.
        const int host = host_register_of(static_cast<unsigned>(base));
        m_group_offset = static_cast<std::int32_t>(displacement) +
                         (base == static_cast<int>(guest_rsp) ? m_stack_pending : 0);
        m_member_base = host;
        if (index_register >= 0) {
            m_member_index = host_register_of(static_cast<unsigned>(index_register));
            m_member_scale = scale;
        }
        if (!register_base) { // the caller needs the address in r14
            if (m_member_index >= 0)
                lea(r14,
                    ptr[Xbyak::Reg64(host) +
                        Xbyak::Reg64(m_member_index) * static_cast<int>(scale) + m_group_offset]);
            else
                lea(r14, ptr[Xbyak::Reg64(host) + m_group_offset]);
            m_member_base = host_address_scratch;
            m_member_index = -1;
            m_group_offset = 0;
        }
        m_member_from_slot = false;
        return true;
    }
    // r14 still holds it right after the group's check, or after members and other
    // instructions that left r14 alone (identity() moves m_r14_group_end past them).
    if (getCurr() != m_r14_group_end || m_r14_group_slot != group.slot) {
        mov(r14, qword[r15 + m_layout.group_host + static_cast<int>(8 * group.slot)]);
        m_r14_group_slot = group.slot;
    }
    // A linear address for gs with page aliases, else a host address in RAM's own mapping; plus
    // the offset (looked_up).
    m_group_offset = role.offset;
    m_member_base = host_address_scratch;
    m_member_from_slot = true;
    return true;
}

bool Emitter::checks_at(std::size_t k) const {
    if (m_groups == nullptr || !m_groups_enabled) return false;
    for (const AccessGroup& group : m_groups->groups)
        if (group.leader == k && !group.hoisted) return true;
    return false;
}

bool Emitter::defers_stack(std::size_t k) const {
    if (m_groups == nullptr || !m_groups_enabled || !m_page_aliases) return false;
    const GuestInstruction& guest = m_instructions[k];
    if (m_stack_pending != 0 && guest.decoded &&
        plain_register_mnemonic(guest.instruction.mnemonic)) {
        // Between a run's pushes (a prologue's moves of the arguments): a move or arithmetic
        // on general registers other than rsp and immediates only, which runs as itself and
        // cannot fault, keeps the move pending.
        bool neutral = true;
        for (unsigned i = 0; i < guest.instruction.operand_count && neutral; ++i) {
            const ZydisDecodedOperand& operand = guest.operands[i];
            if (operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) continue;
            neutral = operand.type == ZYDIS_OPERAND_TYPE_REGISTER &&
                      (operand.reg.value == ZYDIS_REGISTER_RFLAGS ||
                       operand.reg.value == ZYDIS_REGISTER_EFLAGS ||
                       (gpr_number(operand.reg.value) >= 0 &&
                        gpr_number(operand.reg.value) != static_cast<int>(guest_rsp)));
        }
        if (neutral) return true;
    }
    const AccessRole& role = m_groups->roles[k];
    if (role.group < 0 || role.base != static_cast<int>(guest_rsp)) return false;
    const auto index = static_cast<std::size_t>(role.group);
    const AccessGroup& group = m_groups->groups[index];
    if (!register_based(group) || !m_group_state[index].active || group.index >= 0) return false;
    // A push of a register other than rsp or of an immediate, or a pop into one.
    const ZydisDecodedOperand& operand = guest.operands[0];
    if (!guest.decoded || guest.instruction.operand_width != 64) return false;
    const bool other_register = operand.type == ZYDIS_OPERAND_TYPE_REGISTER &&
                                gpr_number(operand.reg.value) >= 0 &&
                                gpr_number(operand.reg.value) != static_cast<int>(guest_rsp);
    switch (guest.instruction.mnemonic) {
    case ZYDIS_MNEMONIC_PUSH:
        return other_register || operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
    case ZYDIS_MNEMONIC_POP:
        return other_register;
    case ZYDIS_MNEMONIC_RET: // (it applies the pending move with its own)
        return true;
    default:
        return false;
    }
}

bool Emitter::grouped_operand(std::size_t k, const GuestInstruction& guest,
                              const ZydisDecodedOperand& operand, bool write, bool register_base) {
    const auto& memory = operand.mem;
    if (operand.type != ZYDIS_OPERAND_TYPE_MEMORY || memory.type != ZYDIS_MEMOP_TYPE_MEM ||
        guest.instruction.address_width != 64 || memory.segment == ZYDIS_REGISTER_FS ||
        memory.segment == ZYDIS_REGISTER_GS ||
        ZydisRegisterGetClass(memory.base) != ZYDIS_REGCLASS_GPR64 ||
        (memory.index != ZYDIS_REGISTER_NONE &&
         ZydisRegisterGetClass(memory.index) != ZYDIS_REGCLASS_GPR64))
        return false;
    const int index = memory.index == ZYDIS_REGISTER_NONE ? -1 : gpr_number(memory.index);
    return grouped_access(k, gpr_number(memory.base),
                          memory.disp.has_displacement ? memory.disp.value : 0, operand.size / 8,
                          write, register_base, index,
                          index < 0 ? 0u : (memory.scale == 0 ? 1u : memory.scale));
}

} // namespace vessel::soft::emit
