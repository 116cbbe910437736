// SSE/SSE2 floating-point handlers (host SSE under the guest MXCSR, see sse_host_float.hpp):
// arithmetic, compares, conversions, and ldmxcsr/stmxcsr.
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/sse_host_float.hpp"
#include "engine/soft/sse_operands.hpp"

namespace vessel::soft {

namespace {

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
    if (value & ~0xffffu) cpu.raise(x86::vector::general_protection, 0);
    cpu.fpu.mxcsr = value;
}

void op_stmxcsr(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    cpu.write<4>(cpu.linear_address(op), cpu.fpu.mxcsr);
}

} // namespace

OpHandler select_sse_float_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    switch (instruction.mnemonic) {
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
