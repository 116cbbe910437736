// AVX operand access shared by the VEX handlers: the availability check (#UD, #NM) and reads and
// writes of xmm/ymm and memory operands as 256-bit values, with VEX.128's zeroing of bits 128-255.
#pragma once

#include <cstdint>
#include <cstring>

#include "engine/soft/cpu_core.hpp"
#include "engine/soft/xsave_state.hpp"

namespace vessel::soft {

/// A 256-bit vector: q[0..1] is the XMM part, q[2..3] the upper half of the YMM register.
struct Vec {
    std::uint64_t q[4]{0, 0, 0, 0};

    /// Lane `i` of type E (lane 0 is the least significant).
    template <typename E> E get(unsigned i) const {
        E value;
        // Sound: byte access to the object's own storage; every caller's lane index keeps
        // i * sizeof(E) + sizeof(E) <= 32.
        std::memcpy(&value, reinterpret_cast<const std::uint8_t*>(q) + i * sizeof(E), sizeof(E));
        return value;
    }
    template <typename E> void set(unsigned i, E value) {
        // Sound: as in get().
        std::memcpy(reinterpret_cast<std::uint8_t*>(q) + i * sizeof(E), &value, sizeof(E));
    }
};

/// #UD unless the model holds `feature`, the OS enabled AVX state (CR4.OSXSAVE and XCR0 SSE|YMM)
/// and the CPU is in protected or long mode (VEX is #UD in real and virtual-8086 mode); #NM with
/// CR0.TS (Intel SDM Vol. 2, 2.8, exception class 1-7 conditions).
inline void check_avx_state(CpuCore& cpu, std::uint32_t feature) {
    constexpr std::uint64_t avx_state = xsave::sse | xsave::ymm;
    if (!cpu.has_feature(feature) || !(cpu.cr4 & xsave::cr4_osxsave) ||
        (cpu.xcr0 & avx_state) != avx_state || cpu.mode == CpuMode::Real ||
        (cpu.rflags & x86::rflags::vm))
        cpu.raise(x86::vector::invalid_opcode);
    if (cpu.cr0 & x86::cr0::ts) cpu.raise(x86::vector::device_not_available);
}

/// Vector length of the instruction in bytes (16 for VEX.128, 32 for VEX.256): its first
/// vector operand's size.
inline unsigned vector_bytes(const DecodedOp& op) {
    for (const Operand& operand : op.operands)
        if (operand.kind == OperandKind::Xmm) return operand.size == 32 ? 32 : 16;
    return 16;
}

/// Reads register `index` as 256 bits.
inline Vec read_ymm(const CpuCore& cpu, unsigned index) {
    Vec value;
    std::memcpy(value.q, cpu.fpu.xmm[index].q, 16);
    std::memcpy(value.q + 2, cpu.fpu.ymm_upper[index].q, 16);
    return value;
}

/// Writes register `index`: `bytes` 16 zeroes bits 128-255 (VEX.128), 32 writes them.
inline void write_ymm(CpuCore& cpu, unsigned index, const Vec& value, unsigned bytes) {
    std::memcpy(cpu.fpu.xmm[index].q, value.q, 16);
    if (bytes == 32)
        std::memcpy(cpu.fpu.ymm_upper[index].q, value.q + 2, 16);
    else
        cpu.fpu.ymm_upper[index] = Xmm{};
}

/// Reads operand i: a register (all 256 bits; the handler uses what its length says), a GPR
/// (zero-extended) or memory of the operand's own size (zero-extended). `alignment` > 1: #GP
/// unless the address is a multiple of it (vmovdqa, vmovaps, vmovntdq).
inline Vec read_vector(CpuCore& cpu, const DecodedOp& op, unsigned i, unsigned alignment = 1) {
    const Operand& operand = op.operands[i];
    Vec value;
    switch (operand.kind) {
    case OperandKind::Xmm:
        return read_ymm(cpu, operand.index);
    case OperandKind::Gpr:
        value.q[0] = cpu.gpr[operand.index] & size_mask(operand.size);
        return value;
    case OperandKind::Memory: {
        const std::uint64_t address = cpu.linear_address(op);
        if (alignment > 1 && (address & (alignment - 1)))
            cpu.raise(x86::vector::general_protection, 0);
        if (operand.size >= 16) {
            for (unsigned word = 0; word < operand.size / 8 && word < 4; ++word)
                value.q[word] = cpu.read<8>(address + 8 * word);
        } else {
            value.q[0] = cpu.read_sized(address, operand.size);
        }
        return value;
    }
    default:
        return value;
    }
}

/// Writes operand i: a register (`bytes` as write_ymm), a GPR, or memory of the operand's size,
/// checked for a fault on its last byte before any byte is written.
inline void write_vector(CpuCore& cpu, const DecodedOp& op, unsigned i, const Vec& value,
                         unsigned bytes, unsigned alignment = 1) {
    const Operand& operand = op.operands[i];
    switch (operand.kind) {
    case OperandKind::Xmm:
        write_ymm(cpu, operand.index, value, bytes);
        break;
    case OperandKind::Gpr:
        cpu.set_reg_sized(operand.size, operand.index, value.q[0]);
        break;
    case OperandKind::Memory: {
        const std::uint64_t address = cpu.linear_address(op);
        if (alignment > 1 && (address & (alignment - 1)))
            cpu.raise(x86::vector::general_protection, 0);
        if (operand.size >= 16) {
            cpu.translate(address + operand.size - 1, access_write, cpu.cpl == 3);
            for (unsigned word = 0; word < operand.size / 8 && word < 4; ++word)
                cpu.write<8>(address + 8 * word, value.q[word]);
        } else {
            cpu.write_sized(address, operand.size, value.q[0]);
        }
        break;
    }
    default:
        break;
    }
}

} // namespace vessel::soft
