// SSE/SSE2 instruction handlers: moves, packed integer and logic, shuffles, scalar/packed float,
// MXCSR.
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/sse_host_float.hpp"

namespace vessel::soft {

namespace {

struct Xmm {
    std::uint64_t q[2]{0, 0};
    template <typename E> E get(unsigned i) const {
        E value;
        std::memcpy(&value, reinterpret_cast<const std::uint8_t*>(q) + i * sizeof(E), sizeof(E));
        return value;
    }
    template <typename E> void set(unsigned i, E value) {
        std::memcpy(reinterpret_cast<std::uint8_t*>(q) + i * sizeof(E), &value, sizeof(E));
    }
};

/// #UD without CR4.OSFXSR or with CR0.EM, #NM with CR0.TS (Intel SDM Vol. 3, 13.1.4).
void check_sse(CpuCore& cpu) {
    if ((cpu.cr0 & x86::cr0::em) || !(cpu.cr4 & x86::cr4::osfxsr))
        cpu.raise(vector::invalid_opcode);
    if (cpu.cr0 & x86::cr0::ts) cpu.raise(vector::device_not_available);
}

Xmm& xmm(CpuCore& cpu, unsigned index) {
    return *reinterpret_cast<Xmm*>(cpu.fpu.xmm[index]);
}

/// Reads operand i as `size` bytes (zero-extended into an Xmm).
Xmm read_source(CpuCore& cpu, const DecodedOp& op, unsigned i, unsigned size,
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
        if (aligned && (address & 15)) cpu.raise(vector::general_protection, 0);
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
void write_destination(CpuCore& cpu, const DecodedOp& op, unsigned i, const Xmm& value,
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
        if (aligned && (address & 15)) cpu.raise(vector::general_protection, 0);
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

// ---- moves ----

template <bool Aligned> void op_move128(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    write_destination(cpu, op, 0, read_source(cpu, op, 1, 16, Aligned), 16, Aligned);
}

/// movd/movq between xmm, gpr and memory: loads into xmm zero the rest.
void op_movd_movq(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const unsigned size =
        op.operands[0].kind == OperandKind::Xmm ? op.operands[1].size : op.operands[0].size;
    const unsigned width = size >= 8 ? 8 : 4;
    Xmm value = read_source(cpu, op, 1, width);
    value.q[0] &= size_mask(width);
    value.q[1] = 0;
    write_destination(cpu, op, 0, value, op.operands[0].kind == OperandKind::Xmm ? 16 : width);
}

/// movss/movsd (Size 4/8): register to register merges the low element; loads zero the rest.
template <unsigned Size> void op_move_scalar(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    if (op.operands[0].kind == OperandKind::Memory) {
        write_destination(cpu, op, 0, xmm(cpu, op.operands[1].index), Size);
        return;
    }
    Xmm source = read_source(cpu, op, 1, Size);
    if (op.operands[1].kind == OperandKind::Memory) {
        xmm(cpu, op.operands[0].index) = source;
        return;
    }
    Xmm& target = xmm(cpu, op.operands[0].index);
    if (Size == 8)
        target.q[0] = source.q[0];
    else
        target.set<std::uint32_t>(0, source.get<std::uint32_t>(0));
}

/// movlps/movlpd (High false) and movhps/movhpd (High true): 64-bit half loads and stores.
template <bool High> void op_move_half(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    if (op.operands[0].kind == OperandKind::Memory) {
        Xmm value;
        value.q[0] = xmm(cpu, op.operands[1].index).q[High ? 1 : 0];
        write_destination(cpu, op, 0, value, 8);
        return;
    }
    xmm(cpu, op.operands[0].index).q[High ? 1 : 0] = read_source(cpu, op, 1, 8).q[0];
}

void op_movhlps(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    xmm(cpu, op.operands[0].index).q[0] = xmm(cpu, op.operands[1].index).q[1];
}
void op_movlhps(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    xmm(cpu, op.operands[0].index).q[1] = xmm(cpu, op.operands[1].index).q[0];
}

// ---- packed integer and logic ----

enum class Packed {
    And,
    AndNot,
    Or,
    Xor,
    Add,
    Sub,
    AddSaturate,
    SubSaturate,
    CompareEqual,
    CompareGreater,
    Min,
    Max,
    Average,
    MultiplyLow,
    MultiplyHigh,
    MultiplyUnsignedDouble,
    MultiplyAdd,
    SumAbsoluteDifferences,
};

template <typename E> E saturate(std::int64_t value) {
    if (value > static_cast<std::int64_t>(std::numeric_limits<E>::max()))
        return std::numeric_limits<E>::max();
    if (value < static_cast<std::int64_t>(std::numeric_limits<E>::min()))
        return std::numeric_limits<E>::min();
    return static_cast<E>(value);
}

template <typename E, Packed K> void op_packed(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm b = read_source(cpu, op, 1, 16);
    Xmm& a = xmm(cpu, op.operands[0].index);
    Xmm r;
    constexpr unsigned count = 16 / sizeof(E);
    if constexpr (K == Packed::And || K == Packed::AndNot || K == Packed::Or || K == Packed::Xor) {
        for (unsigned i = 0; i < 2; ++i) {
            switch (K) {
            case Packed::And:
                r.q[i] = a.q[i] & b.q[i];
                break;
            case Packed::AndNot:
                r.q[i] = ~a.q[i] & b.q[i];
                break;
            case Packed::Or:
                r.q[i] = a.q[i] | b.q[i];
                break;
            default:
                r.q[i] = a.q[i] ^ b.q[i];
                break;
            }
        }
    } else if constexpr (K == Packed::MultiplyHigh) {
        // pmulhw/pmulhuw on the host: gcc 12 vectorizes the scalar signed form of this loop into
        // pmulhuw (found by tools/difftest).
        const __m128i x = sse_host::load(a.q), y = sse_host::load(b.q);
        sse_host::store(r.q, std::is_signed_v<E> ? _mm_mulhi_epi16(x, y) : _mm_mulhi_epu16(x, y));
    } else if constexpr (K == Packed::MultiplyUnsignedDouble) {
        r.q[0] = (a.q[0] & 0xffff'ffff) * (b.q[0] & 0xffff'ffff);
        r.q[1] = (a.q[1] & 0xffff'ffff) * (b.q[1] & 0xffff'ffff);
    } else if constexpr (K == Packed::MultiplyAdd) {
        for (unsigned i = 0; i < 4; ++i) {
            const std::int32_t sum =
                a.get<std::int16_t>(2 * i) * b.get<std::int16_t>(2 * i) +
                a.get<std::int16_t>(2 * i + 1) * b.get<std::int16_t>(2 * i + 1);
            r.set<std::int32_t>(i, sum);
        }
    } else if constexpr (K == Packed::SumAbsoluteDifferences) {
        for (unsigned half = 0; half < 2; ++half) {
            std::uint64_t sum = 0;
            for (unsigned i = 0; i < 8; ++i) {
                const int d = a.get<std::uint8_t>(8 * half + i) - b.get<std::uint8_t>(8 * half + i);
                sum += static_cast<std::uint64_t>(d < 0 ? -d : d);
            }
            r.q[half] = sum;
        }
    } else {
        for (unsigned i = 0; i < count; ++i) {
            const E x = a.get<E>(i), y = b.get<E>(i);
            E result{};
            switch (K) {
            case Packed::Add:
                result = static_cast<E>(x + y);
                break;
            case Packed::Sub:
                result = static_cast<E>(x - y);
                break;
            case Packed::AddSaturate:
                result = saturate<E>(static_cast<std::int64_t>(x) + static_cast<std::int64_t>(y));
                break;
            case Packed::SubSaturate:
                result = saturate<E>(static_cast<std::int64_t>(x) - static_cast<std::int64_t>(y));
                break;
            case Packed::CompareEqual:
                result = x == y ? static_cast<E>(~E{0}) : E{0};
                break;
            case Packed::CompareGreater:
                result = x > y ? static_cast<E>(~E{0}) : E{0};
                break;
            case Packed::Min:
                result = x < y ? x : y;
                break;
            case Packed::Max:
                result = x > y ? x : y;
                break;
            case Packed::Average:
                result = static_cast<E>((static_cast<std::uint64_t>(x) + y + 1) >> 1);
                break;
            case Packed::MultiplyLow:
                result = static_cast<E>(static_cast<std::int32_t>(x) * y);
                break;
            case Packed::MultiplyHigh:
                break; // below
            default:
                break;
            }
            r.set<E>(i, result);
        }
    }
    a = r;
}

/// Interleaves the low (High false) or high halves of destination and source.
template <typename E, bool High> void op_unpack(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm b = read_source(cpu, op, 1, 16);
    Xmm& a = xmm(cpu, op.operands[0].index);
    constexpr unsigned half = 8 / sizeof(E);
    Xmm r;
    for (unsigned i = 0; i < half; ++i) {
        r.set<E>(2 * i, a.get<E>(i + (High ? half : 0)));
        r.set<E>(2 * i + 1, b.get<E>(i + (High ? half : 0)));
    }
    a = r;
}

/// packsswb (Wide int16 to int8), packssdw (int32 to int16), packuswb (int16 to uint8).
template <typename Wide, typename Narrow> void op_pack(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm b = read_source(cpu, op, 1, 16);
    Xmm& a = xmm(cpu, op.operands[0].index);
    constexpr unsigned count = 16 / sizeof(Wide);
    Xmm r;
    for (unsigned i = 0; i < count; ++i) {
        r.set<Narrow>(i, saturate<Narrow>(a.get<Wide>(i)));
        r.set<Narrow>(i + count, saturate<Narrow>(b.get<Wide>(i)));
    }
    a = r;
}

/// pshufd (Lane 0), pshuflw (1), pshufhw (2).
template <int Lane> void op_pshuf(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm source = read_source(cpu, op, 1, 16);
    const unsigned order = op.immediate & 0xff;
    Xmm r = source;
    for (unsigned i = 0; i < 4; ++i) {
        const unsigned pick = (order >> (2 * i)) & 3;
        if (Lane == 0)
            r.set<std::uint32_t>(i, source.get<std::uint32_t>(pick));
        else if (Lane == 1)
            r.set<std::uint16_t>(i, source.get<std::uint16_t>(pick));
        else
            r.set<std::uint16_t>(4 + i, source.get<std::uint16_t>(4 + pick));
    }
    xmm(cpu, op.operands[0].index) = r;
}

void op_shufps(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm b = read_source(cpu, op, 1, 16);
    Xmm& a = xmm(cpu, op.operands[0].index);
    const unsigned order = op.immediate & 0xff;
    Xmm r;
    r.set<std::uint32_t>(0, a.get<std::uint32_t>(order & 3));
    r.set<std::uint32_t>(1, a.get<std::uint32_t>((order >> 2) & 3));
    r.set<std::uint32_t>(2, b.get<std::uint32_t>((order >> 4) & 3));
    r.set<std::uint32_t>(3, b.get<std::uint32_t>((order >> 6) & 3));
    a = r;
}

void op_shufpd(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm b = read_source(cpu, op, 1, 16);
    Xmm& a = xmm(cpu, op.operands[0].index);
    Xmm r;
    r.q[0] = a.q[op.immediate & 1];
    r.q[1] = b.q[(op.immediate >> 1) & 1];
    a = r;
}

enum class ShiftKind { Left, Right, Arithmetic };

/// psllw/d/q, psrlw/d/q, psraw/d by an immediate or the low quadword of an xmm/memory operand.
template <typename E, ShiftKind K> void op_packed_shift(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const std::uint64_t count = op.operands[1].kind == OperandKind::Immediate
                                    ? (op.immediate & 0xff)
                                    : read_source(cpu, op, 1, 16).q[0];
    Xmm& a = xmm(cpu, op.operands[0].index);
    constexpr unsigned bits = 8 * sizeof(E);
    for (unsigned i = 0; i < 16 / sizeof(E); ++i) {
        const E x = a.get<E>(i);
        E result;
        if (K == ShiftKind::Arithmetic) {
            using Signed = std::make_signed_t<E>;
            result = static_cast<E>(static_cast<Signed>(x) >> (count >= bits ? bits - 1 : count));
        } else if (count >= bits) {
            result = 0;
        } else {
            result = K == ShiftKind::Left ? static_cast<E>(x << count) : static_cast<E>(x >> count);
        }
        a.set<E>(i, result);
    }
}

/// pslldq/psrldq: whole-register byte shifts.
template <bool Left> void op_byte_shift(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    Xmm& a = xmm(cpu, op.operands[0].index);
    const unsigned count = op.immediate & 0xff;
    Xmm r;
    for (unsigned i = 0; i < 16; ++i) {
        const int from =
            Left ? static_cast<int>(i) - static_cast<int>(count) : static_cast<int>(i + count);
        r.set<std::uint8_t>(
            i, (from >= 0 && from < 16) ? a.get<std::uint8_t>(static_cast<unsigned>(from)) : 0);
    }
    a = r;
}

/// pmovmskb (Element 1), movmskps (4), movmskpd (8): sign bits into a GPR.
template <unsigned Element> void op_move_mask(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm source = xmm(cpu, op.operands[1].index);
    std::uint64_t mask = 0;
    for (unsigned i = 0; i < 16 / Element; ++i) {
        const std::uint8_t top = source.get<std::uint8_t>(i * Element + Element - 1);
        if (top & 0x80) mask |= std::uint64_t{1} << i;
    }
    cpu.set_reg_sized(op.operands[0].size >= 8 ? 8 : 4, op.operands[0].index, mask);
}

void op_pextrw(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm source = xmm(cpu, op.operands[1].index);
    cpu.set_reg_sized(op.operands[0].size >= 8 ? 8 : 4, op.operands[0].index,
                      source.get<std::uint16_t>(op.immediate & 7));
}

void op_pinsrw(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm source = read_source(cpu, op, 1, op.operands[1].kind == OperandKind::Memory ? 2 : 4);
    xmm(cpu, op.operands[0].index)
        .set<std::uint16_t>(op.immediate & 7, static_cast<std::uint16_t>(source.q[0]));
}

// ---- floating point (host SSE under the guest MXCSR, see sse_host_float.hpp) ----

enum class FloatOp { Add, Sub, Mul, Div, Min, Max, Sqrt, Reciprocal, ReciprocalSqrt };

/// One float operation on whole registers: ps/pd act on every element, ss/sd on the low one
/// and keep a's upper elements, exactly as the instructions do.
template <typename F, bool Packed_, FloatOp K> __m128i host_float(__m128i a, __m128i b) {
    using namespace sse_host;
    // rcpps/rsqrtps and their scalar forms (single precision only): the host's approximation,
    // which the SDM bounds at a relative error of 1.5 * 2^-12.
    if constexpr (K == FloatOp::Reciprocal || K == FloatOp::ReciprocalSqrt) {
        static_assert(sizeof(F) == 4);
        const __m128 x = as_float(b);
        const __m128 packed = K == FloatOp::Reciprocal ? _mm_rcp_ps(x) : _mm_rsqrt_ps(x);
        return as_bits(Packed_ ? packed : _mm_move_ss(as_float(a), packed));
    }
#define VESSEL_SSE_FLOAT_OP(name)                                                                  \
    if constexpr (sizeof(F) == 4)                                                                  \
        return as_bits(Packed_ ? _mm_##name##_ps(as_float(a), as_float(b))                         \
                               : _mm_##name##_ss(as_float(a), as_float(b)));                       \
    else                                                                                           \
        return as_bits(Packed_ ? _mm_##name##_pd(as_double(a), as_double(b))                       \
                               : _mm_##name##_sd(as_double(a), as_double(b)));
    // add and mul in asm: the compiler treats the intrinsics as commutative and may swap the
    // operands, which changes which NaN comes out when both are NaN (found by tools/difftest).
#define VESSEL_SSE_FLOAT_ASM(name)                                                                 \
    if constexpr (sizeof(F) == 4 && Packed_)                                                       \
        asm(#name "ps %1, %0" : "+x"(a) : "x"(b));                                                 \
    else if constexpr (sizeof(F) == 4)                                                             \
        asm(#name "ss %1, %0" : "+x"(a) : "x"(b));                                                 \
    else if constexpr (Packed_)                                                                    \
        asm(#name "pd %1, %0" : "+x"(a) : "x"(b));                                                 \
    else                                                                                           \
        asm(#name "sd %1, %0" : "+x"(a) : "x"(b));                                                 \
    return a;
    switch (K) {
    case FloatOp::Add:
        VESSEL_SSE_FLOAT_ASM(add)
    case FloatOp::Mul:
        VESSEL_SSE_FLOAT_ASM(mul)
    case FloatOp::Sub:
        VESSEL_SSE_FLOAT_OP(sub)
    case FloatOp::Div:
        VESSEL_SSE_FLOAT_OP(div)
    case FloatOp::Min:
        VESSEL_SSE_FLOAT_OP(min)
    case FloatOp::Max:
        VESSEL_SSE_FLOAT_OP(max)
    default:
        break;
    }
#undef VESSEL_SSE_FLOAT_OP
#undef VESSEL_SSE_FLOAT_ASM
    // sqrtss/sqrtsd: the square root of b's low element, a's upper elements.
    if constexpr (sizeof(F) == 4)
        return as_bits(Packed_ ? _mm_sqrt_ps(as_float(b))
                               : _mm_move_ss(as_float(a), _mm_sqrt_ss(as_float(b))));
    else
        return as_bits(Packed_ ? _mm_sqrt_pd(as_double(b))
                               : _mm_sqrt_sd(as_double(a), as_double(b)));
}

/// Scalar (Packed false: low element only) or packed float arithmetic on F (float/double).
template <typename F, bool Packed_, FloatOp K> void op_float(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    // Legacy-SSE packed memory operands must be 16-byte aligned (#GP(0) otherwise).
    const Xmm b = read_source(cpu, op, 1, Packed_ ? 16 : sizeof(F), Packed_);
    Xmm& a = xmm(cpu, op.operands[0].index);
    const __m128i result = sse_host::under_guest_mxcsr(
        cpu, [&] { return host_float<F, Packed_, K>(sse_host::load(a.q), sse_host::load(b.q)); });
    sse_host::store(a.q, result);
}

/// comiss/comisd (Signaling: #I on any NaN) and ucomiss/ucomisd (#I on SNaN only): ZF/PF/CF from
/// the host's compare of the low elements, OF/SF/AF cleared.
template <typename F, bool Signaling> void op_compare_flags(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm a = xmm(cpu, op.operands[0].index);
    const Xmm b = read_source(cpu, op, 1, sizeof(F));
    const std::uint8_t outcome = sse_host::under_guest_mxcsr(cpu, [&] {
        const __m128i x = sse_host::load(a.q), y = sse_host::load(b.q);
        std::uint8_t zero, parity, carry;
        if constexpr (sizeof(F) == 4 && Signaling)
            asm volatile("comiss %3, %4; setz %0; setp %1; setc %2"
                         : "=q"(zero), "=q"(parity), "=q"(carry)
                         : "x"(y), "x"(x)
                         : "cc");
        else if constexpr (sizeof(F) == 4)
            asm volatile("ucomiss %3, %4; setz %0; setp %1; setc %2"
                         : "=q"(zero), "=q"(parity), "=q"(carry)
                         : "x"(y), "x"(x)
                         : "cc");
        else if constexpr (Signaling)
            asm volatile("comisd %3, %4; setz %0; setp %1; setc %2"
                         : "=q"(zero), "=q"(parity), "=q"(carry)
                         : "x"(y), "x"(x)
                         : "cc");
        else
            asm volatile("ucomisd %3, %4; setz %0; setp %1; setc %2"
                         : "=q"(zero), "=q"(parity), "=q"(carry)
                         : "x"(y), "x"(x)
                         : "cc");
        return static_cast<std::uint8_t>(zero | parity << 1 | carry << 2);
    });
    std::uint64_t flags = cpu.flags() & ~arithmetic_flags;
    if (outcome & 1) flags |= x86::rflags::zf;
    if (outcome & 2) flags |= x86::rflags::pf;
    if (outcome & 4) flags |= x86::rflags::cf;
    cpu.set_flags(flags);
}

/// cmpss/cmpsd/cmpps/cmppd with predicate imm8 (0 eq, 1 lt, 2 le, 3 unord, 4 neq, 5 nlt, 6 nle, 7
/// ord) on the host. The predicate is a template parameter: lt/le/nlt/nle signal on quiet NaNs
/// and the others do not, so the compiler must not evaluate more than one.
template <typename F, bool Packed_, unsigned Predicate> __m128i host_compare(__m128i a, __m128i b) {
    using namespace sse_host;
#define VESSEL_SSE_COMPARE(name)                                                                   \
    if constexpr (sizeof(F) == 4)                                                                  \
        return as_bits(Packed_ ? _mm_##name##_ps(as_float(a), as_float(b))                         \
                               : _mm_##name##_ss(as_float(a), as_float(b)));                       \
    else                                                                                           \
        return as_bits(Packed_ ? _mm_##name##_pd(as_double(a), as_double(b))                       \
                               : _mm_##name##_sd(as_double(a), as_double(b)));
    if constexpr (Predicate == 0) {
        VESSEL_SSE_COMPARE(cmpeq)
    } else if constexpr (Predicate == 1) {
        VESSEL_SSE_COMPARE(cmplt)
    } else if constexpr (Predicate == 2) {
        VESSEL_SSE_COMPARE(cmple)
    } else if constexpr (Predicate == 3) {
        VESSEL_SSE_COMPARE(cmpunord)
    } else if constexpr (Predicate == 4) {
        VESSEL_SSE_COMPARE(cmpneq)
    } else if constexpr (Predicate == 5) {
        VESSEL_SSE_COMPARE(cmpnlt)
    } else if constexpr (Predicate == 6) {
        VESSEL_SSE_COMPARE(cmpnle)
    } else {
        VESSEL_SSE_COMPARE(cmpord)
    }
#undef VESSEL_SSE_COMPARE
}

template <typename F, bool Packed_, unsigned Predicate>
void op_compare_mask(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    // Legacy-SSE packed memory operands must be 16-byte aligned (#GP(0) otherwise).
    const Xmm b = read_source(cpu, op, 1, Packed_ ? 16 : sizeof(F), Packed_);
    Xmm& a = xmm(cpu, op.operands[0].index);
    const __m128i result = sse_host::under_guest_mxcsr(cpu, [&] {
        return host_compare<F, Packed_, Predicate>(sse_host::load(a.q), sse_host::load(b.q));
    });
    sse_host::store(a.q, result);
}

/// The compare handler for the op's predicate (imm8 bits 2:0; legacy SSE ignores the rest).
template <typename F, bool Packed_> OpHandler compare_mask_handler(const DecodedOp& op) {
    static constexpr OpHandler handlers[] = {
        &op_compare_mask<F, Packed_, 0>, &op_compare_mask<F, Packed_, 1>,
        &op_compare_mask<F, Packed_, 2>, &op_compare_mask<F, Packed_, 3>,
        &op_compare_mask<F, Packed_, 4>, &op_compare_mask<F, Packed_, 5>,
        &op_compare_mask<F, Packed_, 6>, &op_compare_mask<F, Packed_, 7>};
    return handlers[op.immediate & 7];
}

/// cvtsi2ss/cvtsi2sd: integer (Wide: 64 bits, else 32) to the low float element, rounded per
/// MXCSR. The width is a template parameter so that the compiler never evaluates both host
/// conversions (each raises its own exception flags).
template <typename F, bool Wide> void op_convert_from_integer(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const std::uint64_t value = read_source(cpu, op, 1, Wide ? 8 : 4).q[0];
    Xmm& a = xmm(cpu, op.operands[0].index);
    const __m128i result = sse_host::under_guest_mxcsr(cpu, [&] {
        using namespace sse_host;
        std::uint64_t integer = value;
        pin(integer);
        const __m128i target = load(a.q);
        if constexpr (sizeof(F) == 4 && Wide)
            return as_bits(_mm_cvtsi64_ss(as_float(target), static_cast<long long>(integer)));
        else if constexpr (sizeof(F) == 4)
            return as_bits(_mm_cvtsi32_ss(as_float(target), static_cast<int>(integer)));
        else if constexpr (Wide)
            return as_bits(_mm_cvtsi64_sd(as_double(target), static_cast<long long>(integer)));
        else
            return as_bits(_mm_cvtsi32_sd(as_double(target), static_cast<int>(integer)));
    });
    sse_host::store(a.q, result);
}

/// cvt(t)ss2si/cvt(t)sd2si: low float element to a 32- or 64-bit (Wide) GPR, by MXCSR rounding or
/// truncation; out of range gives the integer indefinite value and #I.
template <typename F, bool Truncate, bool Wide>
void op_convert_to_integer(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm source = read_source(cpu, op, 1, sizeof(F));
    const std::uint64_t result = sse_host::under_guest_mxcsr(cpu, [&]() -> std::uint64_t {
        using namespace sse_host;
        const __m128i x = load(source.q);
        if constexpr (sizeof(F) == 4 && Wide)
            return static_cast<std::uint64_t>(Truncate ? _mm_cvttss_si64(as_float(x))
                                                       : _mm_cvtss_si64(as_float(x)));
        else if constexpr (sizeof(F) == 4)
            return static_cast<std::uint32_t>(Truncate ? _mm_cvttss_si32(as_float(x))
                                                       : _mm_cvtss_si32(as_float(x)));
        else if constexpr (Wide)
            return static_cast<std::uint64_t>(Truncate ? _mm_cvttsd_si64(as_double(x))
                                                       : _mm_cvtsd_si64(as_double(x)));
        else
            return static_cast<std::uint32_t>(Truncate ? _mm_cvttsd_si32(as_double(x))
                                                       : _mm_cvtsd_si32(as_double(x)));
    });
    cpu.set_reg_sized(Wide ? 8 : 4, op.operands[0].index, result);
}

/// cvtss2sd / cvtsd2ss on the low element.
template <typename From, typename To> void op_convert_scalar(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const Xmm source = read_source(cpu, op, 1, sizeof(From));
    Xmm& a = xmm(cpu, op.operands[0].index);
    const __m128i result = sse_host::under_guest_mxcsr(cpu, [&] {
        using namespace sse_host;
        const __m128i target = load(a.q), x = load(source.q);
        if constexpr (sizeof(From) == 4)
            return as_bits(_mm_cvtss_sd(as_double(target), as_float(x)));
        else
            return as_bits(_mm_cvtsd_ss(as_float(target), as_double(x)));
    });
    sse_host::store(a.q, result);
}

enum class PackedConversion {
    Int32ToDouble,         ///< cvtdq2pd (m64 source)
    Int32ToFloat,          ///< cvtdq2ps
    FloatToInt32,          ///< cvtps2dq
    FloatToInt32Truncate,  ///< cvttps2dq
    FloatToDouble,         ///< cvtps2pd (m64 source)
    DoubleToFloat,         ///< cvtpd2ps
    DoubleToInt32,         ///< cvtpd2dq
    DoubleToInt32Truncate, ///< cvttpd2dq
};

template <PackedConversion K> void op_convert_packed(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    constexpr bool half_source =
        K == PackedConversion::Int32ToDouble || K == PackedConversion::FloatToDouble;
    const Xmm source = read_source(cpu, op, 1, half_source ? 8 : 16);
    const __m128i result = sse_host::under_guest_mxcsr(cpu, [&]() -> __m128i {
        using namespace sse_host;
        const __m128i x = load(source.q);
        switch (K) {
        case PackedConversion::Int32ToDouble:
            return as_bits(_mm_cvtepi32_pd(x));
        case PackedConversion::Int32ToFloat:
            return as_bits(_mm_cvtepi32_ps(x));
        case PackedConversion::FloatToInt32:
            return _mm_cvtps_epi32(as_float(x));
        case PackedConversion::FloatToInt32Truncate:
            return _mm_cvttps_epi32(as_float(x));
        case PackedConversion::FloatToDouble:
            return as_bits(_mm_cvtps_pd(as_float(x)));
        case PackedConversion::DoubleToFloat:
            return as_bits(_mm_cvtpd_ps(as_double(x)));
        case PackedConversion::DoubleToInt32:
            return _mm_cvtpd_epi32(as_double(x));
        default:
            return _mm_cvttpd_epi32(as_double(x));
        }
    });
    sse_host::store(xmm(cpu, op.operands[0].index).q, result);
}

void op_ldmxcsr(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const auto value = static_cast<std::uint32_t>(cpu.read<4>(cpu.linear_address(op)));
    if (value & ~0xffffu) cpu.raise(vector::general_protection, 0);
    cpu.fpu.mxcsr = value;
}

void op_stmxcsr(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    cpu.write<4>(cpu.linear_address(op), cpu.fpu.mxcsr);
}

/// movnti: a plain store of a GPR.
template <unsigned S> void op_movnti(CpuCore& cpu, const DecodedOp& op) {
    write_operand<S>(cpu, op, 0, read_operand<S>(cpu, op, 1));
}

} // namespace

OpHandler select_sse_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    using std::int16_t, std::int32_t, std::int8_t, std::uint16_t, std::uint32_t, std::uint64_t,
        std::uint8_t;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_MOVAPS:
    case ZYDIS_MNEMONIC_MOVAPD:
    case ZYDIS_MNEMONIC_MOVDQA:
    case ZYDIS_MNEMONIC_MOVNTDQ:
    case ZYDIS_MNEMONIC_MOVNTPS:
    case ZYDIS_MNEMONIC_MOVNTPD:
        return &op_move128<true>;
    case ZYDIS_MNEMONIC_MOVUPS:
    case ZYDIS_MNEMONIC_MOVUPD:
    case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_LDDQU:
        return &op_move128<false>;
    case ZYDIS_MNEMONIC_MOVD:
    case ZYDIS_MNEMONIC_MOVQ:
        if (op.operands[0].kind == OperandKind::Xmm || op.operands[1].kind == OperandKind::Xmm)
            return &op_movd_movq;
        return nullptr; // MMX forms
    case ZYDIS_MNEMONIC_MOVSS:
        return &op_move_scalar<4>;
    case ZYDIS_MNEMONIC_MOVSD:
        return &op_move_scalar<8>;
    case ZYDIS_MNEMONIC_MOVLPS:
    case ZYDIS_MNEMONIC_MOVLPD:
        return &op_move_half<false>;
    case ZYDIS_MNEMONIC_MOVHPS:
    case ZYDIS_MNEMONIC_MOVHPD:
        return &op_move_half<true>;
    case ZYDIS_MNEMONIC_MOVHLPS:
        return &op_movhlps;
    case ZYDIS_MNEMONIC_MOVLHPS:
        return &op_movlhps;
    case ZYDIS_MNEMONIC_MOVNTI:
        return op.operand_size == 8 ? &op_movnti<8> : &op_movnti<4>;
    default:
        break;
    }
    // The remaining forms all have an xmm destination or source; MMX (mm) forms are not handled.
    // cvt(t)ss2si / cvt(t)sd2si with a memory source name no xmm register at all.
    const bool xmm_form = op.operands[0].kind == OperandKind::Xmm ||
                          op.operands[1].kind == OperandKind::Xmm ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_CVTSS2SI ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_CVTTSS2SI ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_CVTSD2SI ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_CVTTSD2SI ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_LDMXCSR ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_STMXCSR;
    if (!xmm_form) return nullptr;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_PAND:
    case ZYDIS_MNEMONIC_ANDPS:
    case ZYDIS_MNEMONIC_ANDPD:
        return &op_packed<uint64_t, Packed::And>;
    case ZYDIS_MNEMONIC_PANDN:
    case ZYDIS_MNEMONIC_ANDNPS:
    case ZYDIS_MNEMONIC_ANDNPD:
        return &op_packed<uint64_t, Packed::AndNot>;
    case ZYDIS_MNEMONIC_POR:
    case ZYDIS_MNEMONIC_ORPS:
    case ZYDIS_MNEMONIC_ORPD:
        return &op_packed<uint64_t, Packed::Or>;
    case ZYDIS_MNEMONIC_PXOR:
    case ZYDIS_MNEMONIC_XORPS:
    case ZYDIS_MNEMONIC_XORPD:
        return &op_packed<uint64_t, Packed::Xor>;
    case ZYDIS_MNEMONIC_PADDB:
        return &op_packed<uint8_t, Packed::Add>;
    case ZYDIS_MNEMONIC_PADDW:
        return &op_packed<uint16_t, Packed::Add>;
    case ZYDIS_MNEMONIC_PADDD:
        return &op_packed<uint32_t, Packed::Add>;
    case ZYDIS_MNEMONIC_PADDQ:
        return &op_packed<uint64_t, Packed::Add>;
    case ZYDIS_MNEMONIC_PSUBB:
        return &op_packed<uint8_t, Packed::Sub>;
    case ZYDIS_MNEMONIC_PSUBW:
        return &op_packed<uint16_t, Packed::Sub>;
    case ZYDIS_MNEMONIC_PSUBD:
        return &op_packed<uint32_t, Packed::Sub>;
    case ZYDIS_MNEMONIC_PSUBQ:
        return &op_packed<uint64_t, Packed::Sub>;
    case ZYDIS_MNEMONIC_PADDSB:
        return &op_packed<int8_t, Packed::AddSaturate>;
    case ZYDIS_MNEMONIC_PADDSW:
        return &op_packed<int16_t, Packed::AddSaturate>;
    case ZYDIS_MNEMONIC_PADDUSB:
        return &op_packed<uint8_t, Packed::AddSaturate>;
    case ZYDIS_MNEMONIC_PADDUSW:
        return &op_packed<uint16_t, Packed::AddSaturate>;
    case ZYDIS_MNEMONIC_PSUBSB:
        return &op_packed<int8_t, Packed::SubSaturate>;
    case ZYDIS_MNEMONIC_PSUBSW:
        return &op_packed<int16_t, Packed::SubSaturate>;
    case ZYDIS_MNEMONIC_PSUBUSB:
        return &op_packed<uint8_t, Packed::SubSaturate>;
    case ZYDIS_MNEMONIC_PSUBUSW:
        return &op_packed<uint16_t, Packed::SubSaturate>;
    case ZYDIS_MNEMONIC_PCMPEQB:
        return &op_packed<uint8_t, Packed::CompareEqual>;
    case ZYDIS_MNEMONIC_PCMPEQW:
        return &op_packed<uint16_t, Packed::CompareEqual>;
    case ZYDIS_MNEMONIC_PCMPEQD:
        return &op_packed<uint32_t, Packed::CompareEqual>;
    case ZYDIS_MNEMONIC_PCMPGTB:
        return &op_packed<int8_t, Packed::CompareGreater>;
    case ZYDIS_MNEMONIC_PCMPGTW:
        return &op_packed<int16_t, Packed::CompareGreater>;
    case ZYDIS_MNEMONIC_PCMPGTD:
        return &op_packed<int32_t, Packed::CompareGreater>;
    case ZYDIS_MNEMONIC_PMINUB:
        return &op_packed<uint8_t, Packed::Min>;
    case ZYDIS_MNEMONIC_PMAXUB:
        return &op_packed<uint8_t, Packed::Max>;
    case ZYDIS_MNEMONIC_PMINSW:
        return &op_packed<int16_t, Packed::Min>;
    case ZYDIS_MNEMONIC_PMAXSW:
        return &op_packed<int16_t, Packed::Max>;
    case ZYDIS_MNEMONIC_PAVGB:
        return &op_packed<uint8_t, Packed::Average>;
    case ZYDIS_MNEMONIC_PAVGW:
        return &op_packed<uint16_t, Packed::Average>;
    case ZYDIS_MNEMONIC_PMULLW:
        return &op_packed<int16_t, Packed::MultiplyLow>;
    case ZYDIS_MNEMONIC_PMULHW:
        return &op_packed<int16_t, Packed::MultiplyHigh>;
    case ZYDIS_MNEMONIC_PMULHUW:
        return &op_packed<uint16_t, Packed::MultiplyHigh>;
    case ZYDIS_MNEMONIC_PMULUDQ:
        return &op_packed<uint64_t, Packed::MultiplyUnsignedDouble>;
    case ZYDIS_MNEMONIC_PMADDWD:
        return &op_packed<int16_t, Packed::MultiplyAdd>;
    case ZYDIS_MNEMONIC_PSADBW:
        return &op_packed<uint8_t, Packed::SumAbsoluteDifferences>;
    case ZYDIS_MNEMONIC_PUNPCKLBW:
        return &op_unpack<uint8_t, false>;
    case ZYDIS_MNEMONIC_PUNPCKLWD:
        return &op_unpack<uint16_t, false>;
    case ZYDIS_MNEMONIC_PUNPCKLDQ:
    case ZYDIS_MNEMONIC_UNPCKLPS:
        return &op_unpack<uint32_t, false>;
    case ZYDIS_MNEMONIC_PUNPCKLQDQ:
    case ZYDIS_MNEMONIC_UNPCKLPD:
        return &op_unpack<uint64_t, false>;
    case ZYDIS_MNEMONIC_PUNPCKHBW:
        return &op_unpack<uint8_t, true>;
    case ZYDIS_MNEMONIC_PUNPCKHWD:
        return &op_unpack<uint16_t, true>;
    case ZYDIS_MNEMONIC_PUNPCKHDQ:
    case ZYDIS_MNEMONIC_UNPCKHPS:
        return &op_unpack<uint32_t, true>;
    case ZYDIS_MNEMONIC_PUNPCKHQDQ:
    case ZYDIS_MNEMONIC_UNPCKHPD:
        return &op_unpack<uint64_t, true>;
    case ZYDIS_MNEMONIC_PACKSSWB:
        return &op_pack<int16_t, int8_t>;
    case ZYDIS_MNEMONIC_PACKSSDW:
        return &op_pack<int32_t, int16_t>;
    case ZYDIS_MNEMONIC_PACKUSWB:
        return &op_pack<int16_t, uint8_t>;
    case ZYDIS_MNEMONIC_PSHUFD:
        return &op_pshuf<0>;
    case ZYDIS_MNEMONIC_PSHUFLW:
        return &op_pshuf<1>;
    case ZYDIS_MNEMONIC_PSHUFHW:
        return &op_pshuf<2>;
    case ZYDIS_MNEMONIC_SHUFPS:
        return &op_shufps;
    case ZYDIS_MNEMONIC_SHUFPD:
        return &op_shufpd;
    case ZYDIS_MNEMONIC_PSLLW:
        return &op_packed_shift<uint16_t, ShiftKind::Left>;
    case ZYDIS_MNEMONIC_PSLLD:
        return &op_packed_shift<uint32_t, ShiftKind::Left>;
    case ZYDIS_MNEMONIC_PSLLQ:
        return &op_packed_shift<uint64_t, ShiftKind::Left>;
    case ZYDIS_MNEMONIC_PSRLW:
        return &op_packed_shift<uint16_t, ShiftKind::Right>;
    case ZYDIS_MNEMONIC_PSRLD:
        return &op_packed_shift<uint32_t, ShiftKind::Right>;
    case ZYDIS_MNEMONIC_PSRLQ:
        return &op_packed_shift<uint64_t, ShiftKind::Right>;
    case ZYDIS_MNEMONIC_PSRAW:
        return &op_packed_shift<uint16_t, ShiftKind::Arithmetic>;
    case ZYDIS_MNEMONIC_PSRAD:
        return &op_packed_shift<uint32_t, ShiftKind::Arithmetic>;
    case ZYDIS_MNEMONIC_PSLLDQ:
        return &op_byte_shift<true>;
    case ZYDIS_MNEMONIC_PSRLDQ:
        return &op_byte_shift<false>;
    case ZYDIS_MNEMONIC_PMOVMSKB:
        return &op_move_mask<1>;
    case ZYDIS_MNEMONIC_MOVMSKPS:
        return &op_move_mask<4>;
    case ZYDIS_MNEMONIC_MOVMSKPD:
        return &op_move_mask<8>;
    case ZYDIS_MNEMONIC_PEXTRW:
        return op.operands[0].kind == OperandKind::Gpr ? &op_pextrw : nullptr;
    case ZYDIS_MNEMONIC_PINSRW:
        return &op_pinsrw;
    case ZYDIS_MNEMONIC_ADDSS:
        return &op_float<float, false, FloatOp::Add>;
    case ZYDIS_MNEMONIC_ADDSD:
        return &op_float<double, false, FloatOp::Add>;
    case ZYDIS_MNEMONIC_ADDPS:
        return &op_float<float, true, FloatOp::Add>;
    case ZYDIS_MNEMONIC_ADDPD:
        return &op_float<double, true, FloatOp::Add>;
    case ZYDIS_MNEMONIC_SUBSS:
        return &op_float<float, false, FloatOp::Sub>;
    case ZYDIS_MNEMONIC_SUBSD:
        return &op_float<double, false, FloatOp::Sub>;
    case ZYDIS_MNEMONIC_SUBPS:
        return &op_float<float, true, FloatOp::Sub>;
    case ZYDIS_MNEMONIC_SUBPD:
        return &op_float<double, true, FloatOp::Sub>;
    case ZYDIS_MNEMONIC_MULSS:
        return &op_float<float, false, FloatOp::Mul>;
    case ZYDIS_MNEMONIC_MULSD:
        return &op_float<double, false, FloatOp::Mul>;
    case ZYDIS_MNEMONIC_MULPS:
        return &op_float<float, true, FloatOp::Mul>;
    case ZYDIS_MNEMONIC_MULPD:
        return &op_float<double, true, FloatOp::Mul>;
    case ZYDIS_MNEMONIC_DIVSS:
        return &op_float<float, false, FloatOp::Div>;
    case ZYDIS_MNEMONIC_DIVSD:
        return &op_float<double, false, FloatOp::Div>;
    case ZYDIS_MNEMONIC_DIVPS:
        return &op_float<float, true, FloatOp::Div>;
    case ZYDIS_MNEMONIC_DIVPD:
        return &op_float<double, true, FloatOp::Div>;
    case ZYDIS_MNEMONIC_MINSS:
        return &op_float<float, false, FloatOp::Min>;
    case ZYDIS_MNEMONIC_MINSD:
        return &op_float<double, false, FloatOp::Min>;
    case ZYDIS_MNEMONIC_MINPS:
        return &op_float<float, true, FloatOp::Min>;
    case ZYDIS_MNEMONIC_MINPD:
        return &op_float<double, true, FloatOp::Min>;
    case ZYDIS_MNEMONIC_MAXSS:
        return &op_float<float, false, FloatOp::Max>;
    case ZYDIS_MNEMONIC_MAXSD:
        return &op_float<double, false, FloatOp::Max>;
    case ZYDIS_MNEMONIC_MAXPS:
        return &op_float<float, true, FloatOp::Max>;
    case ZYDIS_MNEMONIC_MAXPD:
        return &op_float<double, true, FloatOp::Max>;
    case ZYDIS_MNEMONIC_SQRTSS:
        return &op_float<float, false, FloatOp::Sqrt>;
    case ZYDIS_MNEMONIC_SQRTSD:
        return &op_float<double, false, FloatOp::Sqrt>;
    case ZYDIS_MNEMONIC_SQRTPS:
        return &op_float<float, true, FloatOp::Sqrt>;
    case ZYDIS_MNEMONIC_RCPSS:
        return &op_float<float, false, FloatOp::Reciprocal>;
    case ZYDIS_MNEMONIC_RCPPS:
        return &op_float<float, true, FloatOp::Reciprocal>;
    case ZYDIS_MNEMONIC_RSQRTSS:
        return &op_float<float, false, FloatOp::ReciprocalSqrt>;
    case ZYDIS_MNEMONIC_RSQRTPS:
        return &op_float<float, true, FloatOp::ReciprocalSqrt>;
    case ZYDIS_MNEMONIC_SQRTPD:
        return &op_float<double, true, FloatOp::Sqrt>;
    case ZYDIS_MNEMONIC_COMISS:
        return &op_compare_flags<float, true>;
    case ZYDIS_MNEMONIC_UCOMISS:
        return &op_compare_flags<float, false>;
    case ZYDIS_MNEMONIC_COMISD:
        return &op_compare_flags<double, true>;
    case ZYDIS_MNEMONIC_UCOMISD:
        return &op_compare_flags<double, false>;
    case ZYDIS_MNEMONIC_CMPSS:
        return compare_mask_handler<float, false>(op);
    case ZYDIS_MNEMONIC_CMPSD:
        return compare_mask_handler<double, false>(op);
    case ZYDIS_MNEMONIC_CMPPS:
        return compare_mask_handler<float, true>(op);
    case ZYDIS_MNEMONIC_CMPPD:
        return compare_mask_handler<double, true>(op);
    case ZYDIS_MNEMONIC_CVTSI2SS:
        return op.operands[1].size >= 8 ? &op_convert_from_integer<float, true>
                                        : &op_convert_from_integer<float, false>;
    case ZYDIS_MNEMONIC_CVTSI2SD:
        return op.operands[1].size >= 8 ? &op_convert_from_integer<double, true>
                                        : &op_convert_from_integer<double, false>;
    case ZYDIS_MNEMONIC_CVTTSS2SI:
        return op.operands[0].size >= 8 ? &op_convert_to_integer<float, true, true>
                                        : &op_convert_to_integer<float, true, false>;
    case ZYDIS_MNEMONIC_CVTSS2SI:
        return op.operands[0].size >= 8 ? &op_convert_to_integer<float, false, true>
                                        : &op_convert_to_integer<float, false, false>;
    case ZYDIS_MNEMONIC_CVTTSD2SI:
        return op.operands[0].size >= 8 ? &op_convert_to_integer<double, true, true>
                                        : &op_convert_to_integer<double, true, false>;
    case ZYDIS_MNEMONIC_CVTSD2SI:
        return op.operands[0].size >= 8 ? &op_convert_to_integer<double, false, true>
                                        : &op_convert_to_integer<double, false, false>;
    case ZYDIS_MNEMONIC_CVTSS2SD:
        return &op_convert_scalar<float, double>;
    case ZYDIS_MNEMONIC_CVTSD2SS:
        return &op_convert_scalar<double, float>;
    case ZYDIS_MNEMONIC_CVTDQ2PD:
        return &op_convert_packed<PackedConversion::Int32ToDouble>;
    case ZYDIS_MNEMONIC_CVTDQ2PS:
        return &op_convert_packed<PackedConversion::Int32ToFloat>;
    case ZYDIS_MNEMONIC_CVTTPS2DQ:
        return &op_convert_packed<PackedConversion::FloatToInt32Truncate>;
    case ZYDIS_MNEMONIC_CVTPS2DQ:
        return &op_convert_packed<PackedConversion::FloatToInt32>;
    case ZYDIS_MNEMONIC_CVTPS2PD:
        return &op_convert_packed<PackedConversion::FloatToDouble>;
    case ZYDIS_MNEMONIC_CVTPD2PS:
        return &op_convert_packed<PackedConversion::DoubleToFloat>;
    case ZYDIS_MNEMONIC_CVTPD2DQ:
        return &op_convert_packed<PackedConversion::DoubleToInt32>;
    case ZYDIS_MNEMONIC_CVTTPD2DQ:
        return &op_convert_packed<PackedConversion::DoubleToInt32Truncate>;
    case ZYDIS_MNEMONIC_LDMXCSR:
        return &op_ldmxcsr;
    case ZYDIS_MNEMONIC_STMXCSR:
        return &op_stmxcsr;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
