// Operand access helpers shared by the instruction handlers, and the per-size handler selection.
#pragma once

#include <cstdint>

#include "engine/soft/cpu_core.hpp"

namespace vessel::soft {

template <unsigned S> struct UnsignedOfSize;
template <> struct UnsignedOfSize<1> { using type = std::uint8_t; };
template <> struct UnsignedOfSize<2> { using type = std::uint16_t; };
template <> struct UnsignedOfSize<4> { using type = std::uint32_t; };
template <> struct UnsignedOfSize<8> { using type = std::uint64_t; };
template <unsigned S> using Unsigned = typename UnsignedOfSize<S>::type;

/// Sign-extends the low `size` bytes of value to 64 bits.
inline std::int64_t sign_extend(std::uint64_t value, unsigned size) {
    const unsigned shift = 64 - 8 * size;
    return static_cast<std::int64_t>(value << shift) >> shift;
}

template <unsigned S>
[[gnu::always_inline]] inline std::uint64_t read_operand(CpuCore& cpu, const DecodedOp& op,
                                                         unsigned i) {
    const Operand& operand = op.operands[i];
    switch (operand.kind) {
    case OperandKind::Gpr:
        return cpu.reg<S>(operand.index);
    case OperandKind::GprHigh8:
        return (cpu.gpr[operand.index] >> 8) & 0xff;
    case OperandKind::Memory:
        return cpu.read<S>(cpu.linear_address(op));
    case OperandKind::Immediate:
        return op.immediate & size_mask(S);
    default:
        return 0;
    }
}

template <unsigned S>
[[gnu::always_inline]] inline void write_operand(CpuCore& cpu, const DecodedOp& op, unsigned i,
                                                 std::uint64_t value) {
    const Operand& operand = op.operands[i];
    switch (operand.kind) {
    case OperandKind::Gpr:
        cpu.set_reg<S>(operand.index, value);
        break;
    case OperandKind::GprHigh8:
        cpu.gpr[operand.index] =
            (cpu.gpr[operand.index] & ~std::uint64_t{0xff00}) | ((value & 0xff) << 8);
        break;
    case OperandKind::Memory:
        cpu.write<S>(cpu.linear_address(op), value);
        break;
    default:
        break;
    }
}

/// Reads operand 0, stores f(old) back. With lock on a RAM operand the update is one atomic
/// compare-exchange on the host mapping, so other vCPUs see it whole; f may run more than once.
template <unsigned S, typename F>
inline void read_modify_write(CpuCore& cpu, const DecodedOp& op, F&& f) {
    if (op.operands[0].kind != OperandKind::Memory) {
        write_operand<S>(cpu, op, 0, f(read_operand<S>(cpu, op, 0)));
        return;
    }
    const std::uint64_t address = cpu.linear_address(op);
    if (op.lock) {
        if (std::uint8_t* host = cpu.writable_pointer(address, S)) {
            // The pointer is inside guest RAM (checked by the TLB fill); x86 hosts allow
            // misaligned locked accesses, so the cast is sound for the atomic builtins.
            auto* target = reinterpret_cast<Unsigned<S>*>(host);
            Unsigned<S> old = __atomic_load_n(target, __ATOMIC_RELAXED);
            Unsigned<S> next;
            do {
                next = static_cast<Unsigned<S>>(f(old));
            } while (!__atomic_compare_exchange_n(target, &old, next, false, __ATOMIC_SEQ_CST,
                                                  __ATOMIC_RELAXED));
            cpu.note_ram_write(host);
            return;
        }
    }
    const std::uint64_t old = cpu.read<S>(address);
    cpu.write<S>(address, f(old));
}

template <typename Handler>
constexpr Handler by_size(unsigned size, Handler h1, Handler h2, Handler h4, Handler h8) {
    switch (size) {
    case 1:
        return h1;
    case 2:
        return h2;
    case 4:
        return h4;
    default:
        return h8;
    }
}

/// Picks name<size, extra...> for the op's operand size.
#define BY_SIZE(size, name, ...)                                                                   \
    by_size<OpHandler>((size), &name<1 __VA_OPT__(, ) __VA_ARGS__>,                                \
                       &name<2 __VA_OPT__(, ) __VA_ARGS__>, &name<4 __VA_OPT__(, ) __VA_ARGS__>,   \
                       &name<8 __VA_OPT__(, ) __VA_ARGS__>)

/// #GP(0) unless running at CPL 0 (privileged instructions, Intel SDM Vol. 3, 5.9).
inline void require_cpl0(CpuCore& cpu) {
    if (cpu.cpl != 0) cpu.raise(x86::vector::general_protection, 0);
}

/// Jumps to a new instruction pointer, truncated to the operand size outside 64-bit mode.
inline void jump_to(CpuCore& cpu, std::uint64_t target, unsigned operand_size) {
    cpu.rip = operand_size == 8 ? target : (target & size_mask(operand_size));
}

} // namespace vessel::soft
