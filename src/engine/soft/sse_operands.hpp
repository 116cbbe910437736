// SSE operand access shared by the SSE handlers: the availability check and reads and writes of
// xmm, GPR and memory operands as 128-bit values.
#pragma once

#include "engine/soft/cpu_core.hpp"

namespace vessel::soft {

/// #UD without CR4.OSFXSR or with CR0.EM, #NM with CR0.TS (Intel SDM Vol. 3, 13.1.4).
inline void check_sse(CpuCore& cpu) {
    if ((cpu.cr0 & x86::cr0::em) || !(cpu.cr4 & x86::cr4::osfxsr))
        cpu.raise(x86::vector::invalid_opcode);
    if (cpu.cr0 & x86::cr0::ts) cpu.raise(x86::vector::device_not_available);
}

/// Guest register xmm`index`.
inline Xmm& xmm(CpuCore& cpu, unsigned index) {
    return cpu.fpu.xmm[index];
}

/// Reads operand i as `size` bytes (zero-extended into an Xmm).
inline Xmm read_source(CpuCore& cpu, const DecodedOp& op, unsigned i, unsigned size,
                       bool aligned = false) {
    const Operand& operand = op.operands[i];
    Xmm value;
    switch (operand.kind) {
    case OperandKind::Xmm:
        value = xmm(cpu, operand.index);
        break;
    case OperandKind::Gpr:
        value.q[0] = cpu.gpr[operand.index] & size_mask(size);
        break;
    case OperandKind::Memory: {
        const std::uint64_t address = cpu.linear_address(op);
        if (aligned && (address & 15)) cpu.raise(x86::vector::general_protection, 0);
        if (size == 16) {
            value.q[0] = cpu.read<8>(address);
            value.q[1] = cpu.read<8>(address + 8);
        } else {
            value.q[0] = cpu.read_sized(address, size);
        }
        break;
    }
    default:
        break;
    }
    return value;
}

/// Writes the low `size` bytes of value to operand i (a full Xmm register write when size is 16).
inline void write_destination(CpuCore& cpu, const DecodedOp& op, unsigned i, const Xmm& value,
                              unsigned size, bool aligned = false) {
    const Operand& operand = op.operands[i];
    switch (operand.kind) {
    case OperandKind::Xmm:
        xmm(cpu, operand.index) = value;
        break;
    case OperandKind::Gpr:
        cpu.set_reg_sized(size, operand.index, value.q[0]);
        break;
    case OperandKind::Memory: {
        const std::uint64_t address = cpu.linear_address(op);
        if (aligned && (address & 15)) cpu.raise(x86::vector::general_protection, 0);
        if (size == 16) {
            cpu.translate(address + 15, access_write, cpu.cpl == 3); // fault before any byte
            cpu.write<8>(address, value.q[0]);
            cpu.write<8>(address + 8, value.q[1]);
        } else {
            cpu.write_sized(address, size, value.q[0]);
        }
        break;
    }
    default:
        break;
    }
}

} // namespace vessel::soft
