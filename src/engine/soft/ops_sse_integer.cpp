// SSE2 packed integer handlers: logic, arithmetic, compares, unpacks and packs, shuffles, shifts,
// mask extraction and word inserts/extracts.
#include <cstring>
#include <limits>

#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/saturate.hpp"
#include "engine/soft/sse_host_float.hpp"
#include "engine/soft/sse_operands.hpp"

namespace vessel::soft {

namespace {

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

} // namespace

OpHandler select_sse_integer_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    using std::int16_t, std::int32_t, std::int8_t, std::uint16_t, std::uint32_t, std::uint64_t,
        std::uint8_t;
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
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
