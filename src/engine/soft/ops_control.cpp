// Control-flow and stack instruction handlers: jumps, calls, returns, loops, push/pop, software
// interrupts.
#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"

namespace vessel::soft {

namespace {

// ---- jumps ----

void op_jmp_relative(CpuCore& cpu, const DecodedOp& op) {
    jump_to(cpu, cpu.rip + op.immediate, op.operand_size);
}

template <unsigned S> void op_jmp_indirect(CpuCore& cpu, const DecodedOp& op) {
    jump_to(cpu, read_operand<S>(cpu, op, 0), S);
}

void op_jcc(CpuCore& cpu, const DecodedOp& op) {
    if (cpu.condition(op.condition)) jump_to(cpu, cpu.rip + op.immediate, op.operand_size);
}

/// jcxz/jecxz/jrcxz: the counter width is the address size.
void op_jcxz(CpuCore& cpu, const DecodedOp& op) {
    if ((cpu.gpr[x86::rcx] & size_mask(op.memory.address_size)) == 0)
        jump_to(cpu, cpu.rip + op.immediate, op.operand_size);
}

/// loop/loope/loopne (condition: 0 none, 1 ZF set, 2 ZF clear).
template <unsigned Condition> void op_loop(CpuCore& cpu, const DecodedOp& op) {
    const unsigned width = op.memory.address_size;
    const std::uint64_t count = (cpu.gpr[x86::rcx] - 1) & size_mask(width);
    cpu.set_reg_sized(width, x86::rcx, count);
    bool taken = count != 0;
    if (Condition == 1) taken = taken && (cpu.flags() & x86::rflags::zf);
    if (Condition == 2) taken = taken && !(cpu.flags() & x86::rflags::zf);
    if (taken) jump_to(cpu, cpu.rip + op.immediate, op.operand_size);
}

// ---- calls and returns ----

void op_call_relative(CpuCore& cpu, const DecodedOp& op) {
    cpu.push(cpu.rip, op.operand_size);
    jump_to(cpu, cpu.rip + op.immediate, op.operand_size);
}

template <unsigned S> void op_call_indirect(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t target = read_operand<S>(cpu, op, 0);
    cpu.push(cpu.rip, S);
    jump_to(cpu, target, S);
}

void op_ret(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t target = cpu.pop(op.operand_size);
    if (op.operands[0].kind == OperandKind::Immediate)
        cpu.set_stack_pointer(cpu.stack_pointer() + (op.immediate & 0xffff));
    jump_to(cpu, target, op.operand_size);
}

/// Reads a far pointer operand: immediate ptr16:xx or memory m16:xx (offset first).
void far_pointer(CpuCore& cpu, const DecodedOp& op, std::uint16_t& selector,
                 std::uint64_t& offset) {
    if (op.operands[0].kind == OperandKind::Immediate) {
        selector = static_cast<std::uint16_t>(op.immediate2);
        offset = op.immediate;
        return;
    }
    const std::uint64_t address = cpu.linear_address(op);
    offset = cpu.read_sized(address, op.operand_size);
    selector = static_cast<std::uint16_t>(cpu.read<2>(address + op.operand_size));
}

void op_jmp_far(CpuCore& cpu, const DecodedOp& op) {
    std::uint16_t selector;
    std::uint64_t offset;
    far_pointer(cpu, op, selector, offset);
    cpu.load_code_segment(selector, cpu.cpl);
    jump_to(cpu, offset, op.operand_size);
    cpu.exit_block = true;
}

void op_call_far(CpuCore& cpu, const DecodedOp& op) {
    std::uint16_t selector;
    std::uint64_t offset;
    far_pointer(cpu, op, selector, offset);
    const std::uint64_t saved_sp = cpu.gpr[x86::rsp];
    cpu.push(cpu.segments[cs].selector, op.operand_size);
    cpu.push(cpu.rip, op.operand_size);
    try {
        cpu.load_code_segment(selector, cpu.cpl);
    } catch (const GuestFault&) {
        cpu.gpr[x86::rsp] = saved_sp;
        throw;
    }
    jump_to(cpu, offset, op.operand_size);
    cpu.exit_block = true;
}

void op_ret_far(CpuCore& cpu, const DecodedOp& op) {
    const unsigned size = op.operand_size;
    const std::uint64_t sp = cpu.stack_pointer();
    const std::uint64_t offset = cpu.read_sized(cpu.linear(ss, sp), size);
    const auto selector = static_cast<std::uint16_t>(
        cpu.read_sized(cpu.linear(ss, (sp + size) & size_mask(cpu.stack_size())), size));
    const std::uint64_t release =
        op.operands[0].kind == OperandKind::Immediate ? op.immediate & 0xffff : 0;
    const unsigned new_cpl = cpu.protected_mode() ? (selector & 3) : 0;
    if (cpu.protected_mode() && new_cpl > cpu.cpl) {
        const std::uint64_t outer = sp + 2 * size + release;
        const std::uint64_t new_sp = cpu.read_sized(cpu.linear(ss, outer), size);
        const auto new_ss =
            static_cast<std::uint16_t>(cpu.read_sized(cpu.linear(ss, outer + size), size));
        cpu.load_code_segment(selector, new_cpl);
        cpu.load_segment(ss, new_ss);
        cpu.set_stack_pointer(new_sp + release);
    } else {
        cpu.load_code_segment(selector, cpu.protected_mode() ? cpu.cpl : 0);
        cpu.set_stack_pointer(sp + 2 * size + release);
    }
    jump_to(cpu, offset, size);
    cpu.exit_block = true;
}

// ---- stack ----

void op_push(CpuCore& cpu, const DecodedOp& op) {
    const unsigned size = op.operand_size;
    std::uint64_t value;
    const Operand& operand = op.operands[0];
    if (operand.kind == OperandKind::Segment)
        value = cpu.segments[operand.index].selector;
    else if (operand.kind == OperandKind::Immediate)
        value = op.immediate;
    else
        value = size == 2   ? read_operand<2>(cpu, op, 0)
                : size == 4 ? read_operand<4>(cpu, op, 0)
                            : read_operand<8>(cpu, op, 0);
    cpu.push(value, size);
}

void op_pop(CpuCore& cpu, const DecodedOp& op) {
    const unsigned size = op.operand_size;
    const Operand& operand = op.operands[0];
    if (operand.kind == OperandKind::Segment) {
        const std::uint64_t sp = cpu.stack_pointer();
        const auto selector = static_cast<std::uint16_t>(cpu.read_sized(cpu.linear(ss, sp), size));
        cpu.load_segment(operand.index, selector);
        cpu.set_stack_pointer(sp + size);
        if (operand.index == ss) cpu.interrupt_shadow = cpu.ss_shadow = true;
        cpu.exit_block = true;
        return;
    }
    const std::uint64_t saved_sp = cpu.gpr[x86::rsp];
    const std::uint64_t value = cpu.pop(size);
    try {
        if (size == 2)
            write_operand<2>(cpu, op, 0, value);
        else if (size == 4)
            write_operand<4>(cpu, op, 0, value);
        else
            write_operand<8>(cpu, op, 0, value);
    } catch (const GuestFault&) {
        cpu.gpr[x86::rsp] = saved_sp;
        throw;
    }
}

void op_pushf(CpuCore& cpu, const DecodedOp& op) {
    cpu.push(cpu.flags() & ~(x86::rflags::vm | x86::rflags::rf), op.operand_size);
}

void op_popf(CpuCore& cpu, const DecodedOp& op) {
    using namespace x86::rflags;
    std::uint64_t value = cpu.pop(op.operand_size);
    std::uint64_t writable = cf | pf | af | zf | sf | tf | df | of | nt | ac | id | if_ | iopl;
    const unsigned current_iopl = (cpu.rflags >> 12) & 3;
    if (cpu.protected_mode()) {
        if (cpu.cpl > 0) writable &= ~iopl;
        if (cpu.cpl > current_iopl) writable &= ~if_;
    }
    if (op.operand_size == 2) writable &= 0xffff;
    cpu.set_flags((cpu.flags() & ~writable) | (value & writable));
    cpu.exit_block = true; // IF may have changed
}

void op_enter(CpuCore& cpu, const DecodedOp& op) {
    const unsigned size = op.operand_size;
    const std::uint64_t frame_size = op.immediate & 0xffff;
    const unsigned level = op.immediate2 & 31;
    const unsigned stack = cpu.stack_size();
    cpu.push(cpu.gpr[x86::rbp] & size_mask(size), size);
    const std::uint64_t frame = cpu.stack_pointer();
    if (level > 0) {
        std::uint64_t bp = cpu.gpr[x86::rbp];
        for (unsigned i = 1; i < level; ++i) {
            bp = (bp - size) & size_mask(stack);
            cpu.push(cpu.read_sized(cpu.linear(ss, bp), size), size);
        }
        cpu.push(frame, size);
    }
    cpu.set_reg_sized(size, x86::rbp, frame);
    cpu.set_stack_pointer(cpu.stack_pointer() - frame_size);
}

void op_leave(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t saved_sp = cpu.gpr[x86::rsp];
    cpu.set_stack_pointer(cpu.gpr[x86::rbp]);
    try {
        cpu.set_reg_sized(op.operand_size, x86::rbp, cpu.pop(op.operand_size));
    } catch (const GuestFault&) {
        cpu.gpr[x86::rsp] = saved_sp;
        throw;
    }
}

void op_pusha(CpuCore& cpu, const DecodedOp& op) {
    const unsigned size = op.operand_size;
    const std::uint64_t original_sp = cpu.gpr[x86::rsp];
    for (unsigned r = 0; r < 8; ++r)
        cpu.push(r == x86::rsp ? original_sp : cpu.gpr[r], size);
}

void op_popa(CpuCore& cpu, const DecodedOp& op) {
    const unsigned size = op.operand_size;
    for (int r = 7; r >= 0; --r) {
        const std::uint64_t value = cpu.pop(size);
        if (r != x86::rsp) cpu.set_reg_sized(size, static_cast<unsigned>(r), value);
    }
}

// ---- software interrupts ----

void op_int(CpuCore& cpu, const DecodedOp& op) {
    if ((cpu.rflags & x86::rflags::vm) && ((cpu.rflags >> 12) & 3) < 3)
        cpu.raise(x86::vector::general_protection, 0);
    cpu.deliver(static_cast<std::uint8_t>(op.immediate), false, 0, true);
    cpu.exit_block = true;
}
void op_int3(CpuCore& cpu, const DecodedOp&) {
    cpu.deliver(x86::vector::breakpoint, false, 0, true);
    cpu.exit_block = true;
}
void op_int1(CpuCore& cpu, const DecodedOp&) {
    cpu.deliver(x86::vector::debug, false, 0, false);
    cpu.exit_block = true;
}
void op_into(CpuCore& cpu, const DecodedOp&) {
    if (cpu.flags() & x86::rflags::of) {
        cpu.deliver(x86::vector::overflow, false, 0, true);
        cpu.exit_block = true;
    }
}
void op_iret(CpuCore& cpu, const DecodedOp& op) {
    cpu.interrupt_return(op.operand_size);
    cpu.exit_block = true;
}

} // namespace

OpHandler select_control_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    const unsigned size = op.operand_size;
    const bool far = instruction.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;
    const bool immediate = op.operands[0].kind == OperandKind::Immediate;
    op.ends_block = true;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_JMP:
        if (far) return &op_jmp_far;
        return immediate ? &op_jmp_relative : BY_SIZE(size, op_jmp_indirect);
    case ZYDIS_MNEMONIC_CALL:
        if (far) return &op_call_far;
        return immediate ? &op_call_relative : BY_SIZE(size, op_call_indirect);
    case ZYDIS_MNEMONIC_RET:
        return far ? &op_ret_far : &op_ret;
    case ZYDIS_MNEMONIC_JO:
    case ZYDIS_MNEMONIC_JNO:
    case ZYDIS_MNEMONIC_JB:
    case ZYDIS_MNEMONIC_JNB:
    case ZYDIS_MNEMONIC_JZ:
    case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_JBE:
    case ZYDIS_MNEMONIC_JNBE:
    case ZYDIS_MNEMONIC_JS:
    case ZYDIS_MNEMONIC_JNS:
    case ZYDIS_MNEMONIC_JP:
    case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_JL:
    case ZYDIS_MNEMONIC_JNL:
    case ZYDIS_MNEMONIC_JLE:
    case ZYDIS_MNEMONIC_JNLE:
        return &op_jcc;
    case ZYDIS_MNEMONIC_JCXZ:
    case ZYDIS_MNEMONIC_JECXZ:
    case ZYDIS_MNEMONIC_JRCXZ:
        return &op_jcxz;
    case ZYDIS_MNEMONIC_LOOP:
        return &op_loop<0>;
    case ZYDIS_MNEMONIC_LOOPE:
        return &op_loop<1>;
    case ZYDIS_MNEMONIC_LOOPNE:
        return &op_loop<2>;
    case ZYDIS_MNEMONIC_INT:
        return &op_int;
    case ZYDIS_MNEMONIC_INT3:
        return &op_int3;
    case ZYDIS_MNEMONIC_INT1:
        return &op_int1;
    case ZYDIS_MNEMONIC_INTO:
        return &op_into;
    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD:
    case ZYDIS_MNEMONIC_IRETQ:
        return &op_iret;
    default:
        break;
    }
    op.ends_block = false;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_PUSH:
        return &op_push;
    case ZYDIS_MNEMONIC_POP:
        if (op.operands[0].kind == OperandKind::Segment) op.ends_block = true;
        return &op_pop;
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD:
    case ZYDIS_MNEMONIC_PUSHFQ:
        return &op_pushf;
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_POPFQ:
        op.ends_block = true;
        return &op_popf;
    case ZYDIS_MNEMONIC_ENTER:
        return &op_enter;
    case ZYDIS_MNEMONIC_LEAVE:
        return &op_leave;
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD:
        return &op_pusha;
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD:
        return &op_popa;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
