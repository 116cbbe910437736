// Emitter, stack and string instructions: push/pop (incl. flags and segment selectors), leave,
// and the rep string instructions.
#include "engine/soft/translator/emitter.hpp"

#include <bit>

namespace vessel::soft::emit {

bool Emitter::read_segment_selector(const GuestInstruction& guest) {
    const ZydisDecodedOperand& destination = guest.operands[0];
    const ZydisDecodedOperand& source = guest.operands[1];
    if (destination.type != ZYDIS_OPERAND_TYPE_REGISTER || destination.size < 32 ||
        source.type != ZYDIS_OPERAND_TYPE_REGISTER ||
        ZydisRegisterGetClass(source.reg.value) != ZYDIS_REGCLASS_SEGMENT)
        return false;
    const int number = gpr_number(destination.reg.value);
    if (number < 0) return false;
    const int segment = source.reg.value - ZYDIS_REGISTER_ES;
    movzx(r13d, word[r15 + m_layout.segment_selector + segment * m_layout.segment_stride]);
    if (guest_in_host_register(static_cast<unsigned>(number)))
        mov(host64(number), r13);
    else
        mov(home(static_cast<unsigned>(number)), r13);
    return true;
}

bool Emitter::push_flags(std::size_t k, const GuestInstruction& guest) {
    if (guest.instruction.operand_width != 64) return false;
    Xbyak::Label& fallback = new_label();
    if (!grouped_access(k, static_cast<int>(guest_rsp), -8, 8, true)) {
        lea(r14, ptr[stack_pointer() - 8]);
        lookup(8, true, fallback);
    }
    restore_host_flags();
    save_flags(m_live); // the and below clobbers them (a grouped access left them in place)
    pushfq();
    pop(r13);
    and_(r13d, arithmetic_mask);
    m_host_flags_valid = false; // the slot holds them (the lookup saved them: pushfq reads)
    mov(qword[r15 + m_layout.spill], r13);
    mov(r13, qword[r15 + m_layout.rflags]);
    and_(r13, static_cast<std::uint32_t>(~(arithmetic_mask | x86::rflags::rf | x86::rflags::vm)));
    or_(r13, qword[r15 + m_layout.spill]);
    mov(qword[looked_up()], r13);
    adjust_stack(-8);
    const std::uint8_t* after = getCurr();
    fallback_path(k, guest, fallback, after);
    return true;
}

bool Emitter::push_instruction(std::size_t k, GuestInstruction& guest) {
    const ZydisDecodedOperand& operand = guest.operands[0];
    if (guest.instruction.operand_width != 64) return false;
    if (operand.type != ZYDIS_OPERAND_TYPE_REGISTER && operand.type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
        return false;
    const int number =
        operand.type == ZYDIS_OPERAND_TYPE_REGISTER ? gpr_number(operand.reg.value) : -1;
    if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER && number < 0) return false;
    Xbyak::Label& fallback = new_label();
    const bool grouped = grouped_access(k, static_cast<int>(guest_rsp), -8, 8, true);
    if (!grouped) {
        lea(r14, ptr[stack_pointer() - 8]);
        lookup(8, true, fallback);
    }
    if (operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        mov(qword[looked_up()], static_cast<std::uint64_t>(operand.imm.value.s)); // imm32, extended
    } else if (guest_in_host_register(static_cast<unsigned>(number))) {
        mov(qword[looked_up()], host64(number)); // push rsp stores the old value
    } else {
        mov(r13, home(static_cast<unsigned>(number))); // push rsp stores the old value
        mov(qword[looked_up()], r13);
    }
    move_stack(-8);
    const std::uint8_t* after = getCurr();
    if (grouped && m_member_from_slot) m_r14_group_end = after; // (r14 still holds its slot)
    fallback_path(k, guest, fallback, after);
    return true;
}

bool Emitter::string_instruction(std::size_t k, GuestInstruction& guest) {
    const ZydisDecodedInstruction& instruction = guest.instruction;
    if (!(instruction.attributes & ZYDIS_ATTRIB_HAS_REP) ||
        instruction.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT || instruction.address_width != 64)
        return false;
    bool moves = false;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_MOVSQ:
        moves = true;
        break;
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_STOSQ:
        break;
    default:
        return false;
    }
    if (moves) {
        for (unsigned i = 0; i < instruction.operand_count; ++i) {
            const ZydisDecodedOperand& operand = guest.operands[i];
            if (operand.type == ZYDIS_OPERAND_TYPE_MEMORY &&
                operand.mem.base == ZYDIS_REGISTER_RSI && operand.mem.segment != ZYDIS_REGISTER_DS)
                return false; // an fs/gs source: the interpreter adds the base
        }
    }
    const unsigned element = instruction.operand_width / 8;
    const int scale_shift = std::countr_zero(element);
    Xbyak::Label& fallback = new_label();
    Xbyak::Label& after = new_label();
    save_flags(m_live);
    m_host_flags_valid = false;
    test(rcx, rcx);
    jz(after); // no element: nothing happens, not even a fault
    test(byte[r15 + m_layout.rflags + 1], x86::rflags::df >> 8);
    jnz(fallback, T_NEAR);
    cmp(rcx, 4096 / element);
    ja(fallback, T_NEAR);
    const auto within_one_page = [&](const Xbyak::Reg64& start) {
        lea(r14, ptr[start + rcx * static_cast<int>(element) - 1]); // the last byte
        xor_(r14, start);
        shr(r14, 12);
        jnz(fallback, T_NEAR);
    };
    within_one_page(rdi);
    if (moves) within_one_page(rsi);
    mov(r14, rdi);
    lookup(1, true, fallback, true);
    if (moves) {
        mov(qword[r15 + m_layout.spill], r14);
        mov(r14, rsi);
        lookup(1, false, fallback, true);
    }
    lea(r13, ptr[rdi + rcx * static_cast<int>(element)]);
    mov(qword[r15 + m_layout.string_next + 8], r13);
    if (moves) {
        lea(r13, ptr[rsi + rcx * static_cast<int>(element)]);
        mov(qword[r15 + m_layout.string_next], r13);
        mov(rsi, r14);
        mov(rdi, qword[r15 + m_layout.spill]);
    } else {
        mov(rdi, r14);
    }
    rep();
    switch ((moves ? 4 : 0) + scale_shift) {
    case 0:
        stosb();
        break;
    case 1:
        stosw();
        break;
    case 2:
        stosd();
        break;
    case 3:
        stosq();
        break;
    case 4:
        movsb();
        break;
    case 5:
        movsw();
        break;
    case 6:
        movsd();
        break;
    default:
        movsq();
        break;
    }
    mov(rdi, qword[r15 + m_layout.string_next + 8]);
    if (moves) mov(rsi, qword[r15 + m_layout.string_next]);
    L(after);
    fallback_path(k, guest, fallback, after);
    return true;
}

bool Emitter::pop_instruction(std::size_t k, GuestInstruction& guest) {
    const ZydisDecodedOperand& operand = guest.operands[0];
    if (guest.instruction.operand_width != 64 || operand.type != ZYDIS_OPERAND_TYPE_REGISTER)
        return false;
    const int number = gpr_number(operand.reg.value);
    if (number < 0 || number == static_cast<int>(guest_rsp)) return false;
    Xbyak::Label& fallback = new_label();
    const bool grouped = grouped_access(k, static_cast<int>(guest_rsp), 0, 8, false);
    if (!grouped) {
        mov(r14, stack_pointer());
        lookup(8, false, fallback);
    }
    if (guest_in_host_register(static_cast<unsigned>(number))) {
        mov(host64(number), qword[looked_up()]);
    } else {
        mov(r13, qword[looked_up()]);
        mov(home(static_cast<unsigned>(number)), r13);
    }
    move_stack(8);
    const std::uint8_t* after = getCurr();
    if (grouped && m_member_from_slot) m_r14_group_end = after; // (r14 still holds its slot)
    fallback_path(k, guest, fallback, after);
    return true;
}

bool Emitter::leave_instruction(std::size_t k, const GuestInstruction& guest) {
    if (guest.instruction.operand_width != 64) return false;
    Xbyak::Label& fallback = new_label();
    mov(r14, rbp);
    lookup(8, false, fallback);
    mov(r13, qword[looked_up()]);
    lea(stack_pointer(), ptr[rbp + 8]);
    mov(rbp, r13);
    const std::uint8_t* after = getCurr();
    fallback_path(k, guest, fallback, after);
    return true;
}

} // namespace vessel::soft::emit
