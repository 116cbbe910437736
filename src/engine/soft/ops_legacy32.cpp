// Instructions that exist only outside 64-bit mode: decimal (BCD) adjustment, bound, arpl and
// salc (Intel SDM Vol. 2; each is #UD in 64-bit mode, where the decoder never produces them).
#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"

namespace vessel::soft {

namespace {

using x86::rflags::af;
using x86::rflags::cf;

std::uint8_t al(const CpuCore& cpu) {
    return static_cast<std::uint8_t>(cpu.gpr[x86::rax]);
}
std::uint8_t ah(const CpuCore& cpu) {
    return static_cast<std::uint8_t>(cpu.gpr[x86::rax] >> 8);
}
void set_ax(CpuCore& cpu, std::uint8_t low, std::uint8_t high) {
    cpu.set_reg<2>(x86::rax, static_cast<std::uint64_t>(high) << 8 | low);
}

/// Replaces the arithmetic flags: CF and AF as given, SF/ZF/PF from the 8-bit result, OF clear
/// (it is undefined after these instructions).
void set_adjust_flags(CpuCore& cpu, std::uint8_t result, bool carry, bool adjust) {
    std::uint64_t flags = (cpu.flags() & ~arithmetic_flags) | result_flags(result, 1);
    if (carry) flags |= cf;
    if (adjust) flags |= af;
    cpu.set_flags(flags);
}

/// daa / das: decimal adjust AL after a packed-BCD addition or subtraction.
template <bool Subtract> void op_decimal_adjust(CpuCore& cpu, const DecodedOp&) {
    const std::uint64_t flags = cpu.flags();
    const std::uint8_t old_al = al(cpu);
    const bool old_carry = (flags & cf) != 0;
    std::uint8_t value = old_al;
    bool carry = false, adjust = false;
    if ((old_al & 0xf) > 9 || (flags & af)) {
        carry = old_carry || (Subtract ? old_al < 6 : old_al > 0xff - 6);
        value = static_cast<std::uint8_t>(Subtract ? value - 6 : value + 6);
        adjust = true;
    }
    if (old_al > 0x99 || old_carry) {
        value = static_cast<std::uint8_t>(Subtract ? value - 0x60 : value + 0x60);
        carry = true;
    }
    cpu.set_reg<1>(x86::rax, value);
    set_adjust_flags(cpu, value, carry, adjust);
}

/// aaa / aas: ASCII adjust after an unpacked-BCD addition or subtraction.
template <bool Subtract> void op_ascii_adjust(CpuCore& cpu, const DecodedOp&) {
    const std::uint64_t flags = cpu.flags();
    const bool adjust = (al(cpu) & 0xf) > 9 || (flags & af);
    if (adjust) {
        const auto ax = static_cast<std::uint16_t>(cpu.gpr[x86::rax]);
        if (Subtract) {
            // AX := AX - 6; AH := AH - 1: a borrow out of AL reaches AH as well.
            cpu.set_reg<2>(x86::rax, static_cast<std::uint16_t>(ax - 6 - 0x100));
        } else {
            cpu.set_reg<2>(x86::rax, static_cast<std::uint16_t>(ax + 0x106));
        }
    }
    cpu.set_reg<1>(x86::rax, al(cpu) & 0xf);
    set_adjust_flags(cpu, al(cpu), adjust, adjust);
}

/// aam imm8: AH = AL / base, AL = AL % base; a zero base is #DE.
void op_aam(CpuCore& cpu, const DecodedOp& op) {
    const auto base = static_cast<std::uint8_t>(op.immediate);
    if (base == 0) cpu.raise(x86::vector::divide_error);
    const std::uint8_t value = al(cpu);
    set_ax(cpu, static_cast<std::uint8_t>(value % base), static_cast<std::uint8_t>(value / base));
    set_adjust_flags(cpu, al(cpu), false, false);
}

/// aad imm8: AL = AL + AH * base, AH = 0.
void op_aad(CpuCore& cpu, const DecodedOp& op) {
    const auto base = static_cast<std::uint8_t>(op.immediate);
    const auto value = static_cast<std::uint8_t>(al(cpu) + ah(cpu) * base);
    set_ax(cpu, value, 0);
    set_adjust_flags(cpu, value, false, false);
}

/// salc (undocumented, opcode D6): AL = CF ? 0xff : 0.
void op_salc(CpuCore& cpu, const DecodedOp&) {
    cpu.set_reg<1>(x86::rax, cpu.carry() ? 0xff : 0);
}

/// bound r, m: #BR unless lower <= index <= upper, all signed, bounds in memory.
void op_bound(CpuCore& cpu, const DecodedOp& op) {
    const unsigned size = op.operand_size == 2 ? 2 : 4;
    const std::uint64_t address = cpu.linear_address(op);
    const std::int64_t index = sign_extend(cpu.reg<4>(op.operands[0].index), size);
    const std::int64_t lower = sign_extend(cpu.read_sized(address, size), size);
    const std::int64_t upper = sign_extend(cpu.read_sized(address + size, size), size);
    if (index < lower || index > upper) cpu.raise(x86::vector::bound_range);
}

/// arpl r/m16, r16: raises the destination selector's RPL to the source's; ZF says whether it
/// changed. #UD in real and virtual-8086 mode.
void op_arpl(CpuCore& cpu, const DecodedOp& op) {
    if (cpu.mode == CpuMode::Real) cpu.raise(x86::vector::invalid_opcode);
    const std::uint64_t destination = read_operand<2>(cpu, op, 0);
    const std::uint64_t source = read_operand<2>(cpu, op, 1);
    std::uint64_t flags = cpu.flags() & ~x86::rflags::zf;
    if ((destination & 3) < (source & 3)) {
        write_operand<2>(cpu, op, 0, (destination & ~std::uint64_t{3}) | (source & 3));
        flags |= x86::rflags::zf;
    }
    cpu.set_flags(flags);
}

} // namespace

OpHandler select_legacy32_handler(const ZydisDecodedInstruction& instruction, DecodedOp&) {
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_DAA:
        return &op_decimal_adjust<false>;
    case ZYDIS_MNEMONIC_DAS:
        return &op_decimal_adjust<true>;
    case ZYDIS_MNEMONIC_AAA:
        return &op_ascii_adjust<false>;
    case ZYDIS_MNEMONIC_AAS:
        return &op_ascii_adjust<true>;
    case ZYDIS_MNEMONIC_AAM:
        return &op_aam;
    case ZYDIS_MNEMONIC_AAD:
        return &op_aad;
    case ZYDIS_MNEMONIC_SALC:
        return &op_salc;
    case ZYDIS_MNEMONIC_BOUND:
        return &op_bound;
    case ZYDIS_MNEMONIC_ARPL:
        return &op_arpl;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
