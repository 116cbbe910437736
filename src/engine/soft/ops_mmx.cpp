// MMX (Intel SDM Vol. 1, chapter 9): the eight 64-bit registers mm0-mm7 are the significands of
// the x87 physical registers R0-R7, and the integer instructions on them: MMX itself, the SSE and
// SSE2 forms that name mm registers (pshufw, pmovmskb, pminub, pavgb, psadbw, movntq, maskmovq,
// paddq, pmuludq, movq2dq, movdq2q) and the SSSE3 mm forms. Portable code: no host MMX register
// is touched (the host's x87 state belongs to the x87 handlers' long doubles).
//
// Every MMX instruction checks CR0.EM (#UD), CR0.TS (#NM) and a pending unmasked x87 exception
// (#MF) first, and once done leaves TOP = 0 and every tag valid; a write to mm sets the register's
// exponent and sign bits (64-79) to ones; emms marks every tag empty (9.5.1).
// The SSE/SSE2 conversions between mm and xmm (cvtpi2ps, cvtps2pi, cvttps2pi, cvtpi2pd, cvtpd2pi,
// cvttpd2pi) run on the host's SSE unit under the guest's MXCSR (sse_host_float.hpp); they enter
// the MMX state only when they name an mm register (a memory source leaves the x87 state alone).
#include <cstdlib>
#include <cstring>
#include <limits>

#include "engine/soft/cpu_core.hpp"
#include "engine/soft/handlers.hpp"
#include "engine/soft/saturate.hpp"
#include "engine/soft/sse_host_float.hpp"

namespace vessel::soft {

namespace {

constexpr std::uint16_t status_error_summary = 1u << 7; ///< x87 status ES: an unmasked exception

void check_mmx(CpuCore& cpu) {
    if (cpu.cr0 & x86::cr0::em) cpu.raise(x86::vector::invalid_opcode);
    if (cpu.cr0 & x86::cr0::ts) cpu.raise(x86::vector::device_not_available);
    if (cpu.fpu.status & status_error_summary) cpu.raise(x86::vector::x87_error);
}

/// The x87 state after an MMX instruction: TOP = 0, all registers tagged valid.
void enter_mmx_state(CpuCore& cpu) {
    cpu.fpu.top = 0;
    cpu.fpu.tag_valid = 0xff;
}

std::uint64_t mm(const CpuCore& cpu, unsigned index) {
    std::uint64_t value;
    std::memcpy(&value, &cpu.fpu.st[index & 7], 8); // the x87 extended format's significand
    return value;
}

void set_mm(CpuCore& cpu, unsigned index, std::uint64_t value) {
    std::uint8_t bytes[sizeof(long double)] = {};
    std::memcpy(bytes, &value, 8);
    bytes[8] = bytes[9] = 0xff; // sign and exponent: all ones
    std::memcpy(&cpu.fpu.st[index & 7], bytes, sizeof bytes);
}

/// Operand i: an mm, xmm (low quadword) or general register, or memory of the operand's size.
std::uint64_t read_source(CpuCore& cpu, const DecodedOp& op, unsigned i) {
    const Operand& operand = op.operands[i];
    switch (operand.kind) {
    case OperandKind::Mmx:
        return mm(cpu, operand.index);
    case OperandKind::Xmm:
        return cpu.fpu.xmm[operand.index].q[0];
    case OperandKind::Gpr:
        return cpu.gpr[operand.index] & size_mask(operand.size);
    case OperandKind::Memory:
        return cpu.read_sized(cpu.linear_address(op), operand.size);
    case OperandKind::Immediate:
        return op.immediate & 0xff;
    default:
        cpu.fail("MMX: unexpected operand kind");
    }
}

template <typename E> E lane(std::uint64_t value, unsigned i) {
    E element;
    std::memcpy(&element, reinterpret_cast<const std::uint8_t*>(&value) + i * sizeof(E), sizeof(E));
    return element;
}

template <typename E> void set_lane(std::uint64_t& value, unsigned i, E element) {
    std::memcpy(reinterpret_cast<std::uint8_t*>(&value) + i * sizeof(E), &element, sizeof(E));
}

/// Lane-wise f(a_i, b_i) over lanes of type E.
template <typename E, typename F> std::uint64_t lanes(std::uint64_t a, std::uint64_t b, F f) {
    std::uint64_t result = 0;
    for (unsigned i = 0; i < 8 / sizeof(E); ++i)
        set_lane<E>(result, i, static_cast<E>(f(lane<E>(a, i), lane<E>(b, i))));
    return result;
}

template <typename E> std::uint64_t add_saturate(std::uint64_t a, std::uint64_t b) {
    return lanes<E>(a, b, [](E x, E y) { return saturate<E>(std::int64_t{x} + std::int64_t{y}); });
}
template <typename E> std::uint64_t sub_saturate(std::uint64_t a, std::uint64_t b) {
    return lanes<E>(a, b, [](E x, E y) { return saturate<E>(std::int64_t{x} - std::int64_t{y}); });
}
template <typename E> std::uint64_t add(std::uint64_t a, std::uint64_t b) {
    return lanes<E>(a, b, [](E x, E y) { return static_cast<E>(x + y); });
}
template <typename E> std::uint64_t sub(std::uint64_t a, std::uint64_t b) {
    return lanes<E>(a, b, [](E x, E y) { return static_cast<E>(x - y); });
}
template <typename E> std::uint64_t compare_equal(std::uint64_t a, std::uint64_t b) {
    return lanes<E>(a, b, [](E x, E y) { return x == y ? static_cast<E>(-1) : E{0}; });
}
template <typename E> std::uint64_t compare_greater(std::uint64_t a, std::uint64_t b) {
    return lanes<E>(a, b, [](E x, E y) { return x > y ? static_cast<E>(-1) : E{0}; });
}

/// Packs the lanes of a then b (type W) into half-width lanes N with saturation.
template <typename W, typename N> std::uint64_t pack(std::uint64_t a, std::uint64_t b) {
    constexpr unsigned count = 8 / sizeof(W);
    std::uint64_t result = 0;
    for (unsigned i = 0; i < count; ++i) {
        set_lane<N>(result, i, saturate<N>(lane<W>(a, i)));
        set_lane<N>(result, count + i, saturate<N>(lane<W>(b, i)));
    }
    return result;
}

/// Interleaves the low (or high) halves' lanes of a and b.
template <typename E> std::uint64_t unpack(std::uint64_t a, std::uint64_t b, bool high) {
    constexpr unsigned half = 4 / sizeof(E);
    std::uint64_t result = 0;
    for (unsigned i = 0; i < half; ++i) {
        set_lane<E>(result, 2 * i, lane<E>(a, (high ? half : 0) + i));
        set_lane<E>(result, 2 * i + 1, lane<E>(b, (high ? half : 0) + i));
    }
    return result;
}

enum class Shift { Left, Right, Arithmetic };

template <typename E> std::uint64_t shift(std::uint64_t a, std::uint64_t count, Shift kind) {
    constexpr unsigned bits = 8 * sizeof(E);
    if (count >= bits) {
        if (kind != Shift::Arithmetic) return 0;
        count = bits - 1;
    }
    std::uint64_t result = 0;
    for (unsigned i = 0; i < 8 / sizeof(E); ++i) {
        using S = std::make_signed_t<E>;
        const E x = lane<E>(a, i);
        E r;
        if (kind == Shift::Left)
            r = static_cast<E>(x << count);
        else if (kind == Shift::Right)
            r = static_cast<E>(x >> count);
        else
            r = static_cast<E>(static_cast<S>(x) >> count);
        set_lane<E>(result, i, r);
    }
    return result;
}

/// phadd/phsub: lanes pairs of a, then of b; `op` combines (even, odd).
template <typename E, typename F> std::uint64_t horizontal(std::uint64_t a, std::uint64_t b, F f) {
    constexpr unsigned half = 4 / sizeof(E);
    std::uint64_t result = 0;
    for (unsigned i = 0; i < half; ++i) {
        set_lane<E>(result, i, static_cast<E>(f(lane<E>(a, 2 * i), lane<E>(a, 2 * i + 1))));
        set_lane<E>(result, half + i, static_cast<E>(f(lane<E>(b, 2 * i), lane<E>(b, 2 * i + 1))));
    }
    return result;
}

template <typename E> std::uint64_t sign(std::uint64_t a, std::uint64_t b) {
    return lanes<E>(a, b, [](E x, E y) {
        return y < 0 ? static_cast<E>(-static_cast<std::make_unsigned_t<E>>(x)) : y == 0 ? E{0} : x;
    });
}

template <typename E> std::uint64_t absolute(std::uint64_t b) {
    return lanes<E>(b, b, [](E x, E) {
        using U = std::make_unsigned_t<E>;
        return static_cast<U>(x < 0 ? static_cast<U>(-static_cast<U>(x)) : static_cast<U>(x));
    });
}

/// The result of the two-operand instruction `mnemonic` on a (the destination) and b.
std::uint64_t compute(CpuCore& cpu, const DecodedOp& op, std::uint64_t a, std::uint64_t b) {
    using i8 = std::int8_t;
    using u8 = std::uint8_t;
    using i16 = std::int16_t;
    using u16 = std::uint16_t;
    using i32 = std::int32_t;
    using u32 = std::uint32_t;
    switch (op.mnemonic) {
    case ZYDIS_MNEMONIC_PADDB:
        return add<u8>(a, b);
    case ZYDIS_MNEMONIC_PADDW:
        return add<u16>(a, b);
    case ZYDIS_MNEMONIC_PADDD:
        return add<u32>(a, b);
    case ZYDIS_MNEMONIC_PADDQ:
        return a + b;
    case ZYDIS_MNEMONIC_PSUBB:
        return sub<u8>(a, b);
    case ZYDIS_MNEMONIC_PSUBW:
        return sub<u16>(a, b);
    case ZYDIS_MNEMONIC_PSUBD:
        return sub<u32>(a, b);
    case ZYDIS_MNEMONIC_PSUBQ:
        return a - b;
    case ZYDIS_MNEMONIC_PADDSB:
        return add_saturate<i8>(a, b);
    case ZYDIS_MNEMONIC_PADDSW:
        return add_saturate<i16>(a, b);
    case ZYDIS_MNEMONIC_PADDUSB:
        return add_saturate<u8>(a, b);
    case ZYDIS_MNEMONIC_PADDUSW:
        return add_saturate<u16>(a, b);
    case ZYDIS_MNEMONIC_PSUBSB:
        return sub_saturate<i8>(a, b);
    case ZYDIS_MNEMONIC_PSUBSW:
        return sub_saturate<i16>(a, b);
    case ZYDIS_MNEMONIC_PSUBUSB:
        return sub_saturate<u8>(a, b);
    case ZYDIS_MNEMONIC_PSUBUSW:
        return sub_saturate<u16>(a, b);
    case ZYDIS_MNEMONIC_PAND:
        return a & b;
    case ZYDIS_MNEMONIC_PANDN:
        return ~a & b;
    case ZYDIS_MNEMONIC_POR:
        return a | b;
    case ZYDIS_MNEMONIC_PXOR:
        return a ^ b;
    case ZYDIS_MNEMONIC_PCMPEQB:
        return compare_equal<u8>(a, b);
    case ZYDIS_MNEMONIC_PCMPEQW:
        return compare_equal<u16>(a, b);
    case ZYDIS_MNEMONIC_PCMPEQD:
        return compare_equal<u32>(a, b);
    case ZYDIS_MNEMONIC_PCMPGTB:
        return compare_greater<i8>(a, b);
    case ZYDIS_MNEMONIC_PCMPGTW:
        return compare_greater<i16>(a, b);
    case ZYDIS_MNEMONIC_PCMPGTD:
        return compare_greater<i32>(a, b);
    case ZYDIS_MNEMONIC_PMULLW:
        return lanes<i16>(a, b, [](i16 x, i16 y) { return static_cast<i16>(i32{x} * y); });
    case ZYDIS_MNEMONIC_PMULHW:
        return lanes<i16>(a, b, [](i16 x, i16 y) { return static_cast<i16>((i32{x} * y) >> 16); });
    case ZYDIS_MNEMONIC_PMULHUW:
        return lanes<u16>(a, b, [](u16 x, u16 y) { return static_cast<u16>((u32{x} * y) >> 16); });
    case ZYDIS_MNEMONIC_PMULUDQ:
        return (a & 0xffff'ffff) * (b & 0xffff'ffff);
    case ZYDIS_MNEMONIC_PMULHRSW:
        return lanes<i16>(
            a, b, [](i16 x, i16 y) { return static_cast<i16>((((i32{x} * y) >> 14) + 1) >> 1); });
    case ZYDIS_MNEMONIC_PMADDWD: {
        std::uint64_t result = 0;
        for (unsigned i = 0; i < 2; ++i) {
            const std::int64_t sum =
                std::int64_t{lane<i16>(a, 2 * i)} * lane<i16>(b, 2 * i) +
                std::int64_t{lane<i16>(a, 2 * i + 1)} * lane<i16>(b, 2 * i + 1);
            set_lane<u32>(result, i, static_cast<u32>(sum)); // 0x8000'0000 for the one overflow
        }
        return result;
    }
    case ZYDIS_MNEMONIC_PMADDUBSW: {
        std::uint64_t result = 0;
        for (unsigned i = 0; i < 4; ++i) {
            const std::int64_t sum = std::int64_t{lane<u8>(a, 2 * i)} * lane<i8>(b, 2 * i) +
                                     std::int64_t{lane<u8>(a, 2 * i + 1)} * lane<i8>(b, 2 * i + 1);
            set_lane<i16>(result, i, saturate<i16>(sum));
        }
        return result;
    }
    case ZYDIS_MNEMONIC_PAVGB:
        return lanes<u8>(a, b, [](u8 x, u8 y) { return static_cast<u8>((u32{x} + y + 1) >> 1); });
    case ZYDIS_MNEMONIC_PAVGW:
        return lanes<u16>(a, b,
                          [](u16 x, u16 y) { return static_cast<u16>((u32{x} + y + 1) >> 1); });
    case ZYDIS_MNEMONIC_PMAXSW:
        return lanes<i16>(a, b, [](i16 x, i16 y) { return x > y ? x : y; });
    case ZYDIS_MNEMONIC_PMINSW:
        return lanes<i16>(a, b, [](i16 x, i16 y) { return x < y ? x : y; });
    case ZYDIS_MNEMONIC_PMAXUB:
        return lanes<u8>(a, b, [](u8 x, u8 y) { return x > y ? x : y; });
    case ZYDIS_MNEMONIC_PMINUB:
        return lanes<u8>(a, b, [](u8 x, u8 y) { return x < y ? x : y; });
    case ZYDIS_MNEMONIC_PSADBW: {
        std::uint64_t sum = 0;
        for (unsigned i = 0; i < 8; ++i)
            sum += static_cast<std::uint64_t>(std::abs(int{lane<u8>(a, i)} - int{lane<u8>(b, i)}));
        return sum;
    }
    case ZYDIS_MNEMONIC_PACKSSWB:
        return pack<i16, i8>(a, b);
    case ZYDIS_MNEMONIC_PACKSSDW:
        return pack<i32, i16>(a, b);
    case ZYDIS_MNEMONIC_PACKUSWB:
        return pack<i16, u8>(a, b);
    case ZYDIS_MNEMONIC_PUNPCKLBW:
        return unpack<u8>(a, b, false);
    case ZYDIS_MNEMONIC_PUNPCKLWD:
        return unpack<u16>(a, b, false);
    case ZYDIS_MNEMONIC_PUNPCKLDQ:
        return unpack<u32>(a, b, false);
    case ZYDIS_MNEMONIC_PUNPCKHBW:
        return unpack<u8>(a, b, true);
    case ZYDIS_MNEMONIC_PUNPCKHWD:
        return unpack<u16>(a, b, true);
    case ZYDIS_MNEMONIC_PUNPCKHDQ:
        return unpack<u32>(a, b, true);
    case ZYDIS_MNEMONIC_PSLLW:
        return shift<u16>(a, b, Shift::Left);
    case ZYDIS_MNEMONIC_PSLLD:
        return shift<u32>(a, b, Shift::Left);
    case ZYDIS_MNEMONIC_PSLLQ:
        return shift<std::uint64_t>(a, b, Shift::Left);
    case ZYDIS_MNEMONIC_PSRLW:
        return shift<u16>(a, b, Shift::Right);
    case ZYDIS_MNEMONIC_PSRLD:
        return shift<u32>(a, b, Shift::Right);
    case ZYDIS_MNEMONIC_PSRLQ:
        return shift<std::uint64_t>(a, b, Shift::Right);
    case ZYDIS_MNEMONIC_PSRAW:
        return shift<u16>(a, b, Shift::Arithmetic);
    case ZYDIS_MNEMONIC_PSRAD:
        return shift<u32>(a, b, Shift::Arithmetic);
    case ZYDIS_MNEMONIC_PSHUFB:
        return lanes<u8>(a, b, [a](u8, u8 y) { return (y & 0x80) ? u8{0} : lane<u8>(a, y & 7); });
    case ZYDIS_MNEMONIC_PALIGNR: {
        // (a:b) >> 8 * imm8, the low 64 bits.
        const unsigned bytes = op.immediate & 0xff;
        if (bytes >= 16) return 0;
        if (bytes >= 8) return bytes == 8 ? a : a >> (8 * (bytes - 8));
        return bytes == 0 ? b : (b >> (8 * bytes)) | (a << (64 - 8 * bytes));
    }
    case ZYDIS_MNEMONIC_PHADDW:
        return horizontal<i16>(a, b, [](i16 x, i16 y) { return static_cast<i16>(x + y); });
    case ZYDIS_MNEMONIC_PHADDD:
        return horizontal<i32>(a, b,
                               [](i32 x, i32 y) { return static_cast<i32>(u32(x) + u32(y)); });
    case ZYDIS_MNEMONIC_PHADDSW:
        return horizontal<i16>(a, b, [](i16 x, i16 y) { return saturate<i16>(i32{x} + y); });
    case ZYDIS_MNEMONIC_PHSUBW:
        return horizontal<i16>(a, b, [](i16 x, i16 y) { return static_cast<i16>(x - y); });
    case ZYDIS_MNEMONIC_PHSUBD:
        return horizontal<i32>(a, b,
                               [](i32 x, i32 y) { return static_cast<i32>(u32(x) - u32(y)); });
    case ZYDIS_MNEMONIC_PHSUBSW:
        return horizontal<i16>(a, b, [](i16 x, i16 y) { return saturate<i16>(i32{x} - y); });
    case ZYDIS_MNEMONIC_PSIGNB:
        return sign<i8>(a, b);
    case ZYDIS_MNEMONIC_PSIGNW:
        return sign<i16>(a, b);
    case ZYDIS_MNEMONIC_PSIGND:
        return sign<i32>(a, b);
    case ZYDIS_MNEMONIC_PABSB:
        return absolute<i8>(b);
    case ZYDIS_MNEMONIC_PABSW:
        return absolute<i16>(b);
    case ZYDIS_MNEMONIC_PABSD:
        return absolute<i32>(b);
    case ZYDIS_MNEMONIC_PSHUFW: {
        std::uint64_t result = 0;
        for (unsigned i = 0; i < 4; ++i)
            set_lane<u16>(result, i, lane<u16>(b, (op.immediate >> (2 * i)) & 3));
        return result;
    }
    default:
        cpu.fail("MMX: no kernel for this instruction");
    }
}

bool is_ssse3(unsigned mnemonic) {
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_PSHUFB:
    case ZYDIS_MNEMONIC_PALIGNR:
    case ZYDIS_MNEMONIC_PHADDW:
    case ZYDIS_MNEMONIC_PHADDD:
    case ZYDIS_MNEMONIC_PHADDSW:
    case ZYDIS_MNEMONIC_PHSUBW:
    case ZYDIS_MNEMONIC_PHSUBD:
    case ZYDIS_MNEMONIC_PHSUBSW:
    case ZYDIS_MNEMONIC_PMADDUBSW:
    case ZYDIS_MNEMONIC_PMULHRSW:
    case ZYDIS_MNEMONIC_PSIGNB:
    case ZYDIS_MNEMONIC_PSIGNW:
    case ZYDIS_MNEMONIC_PSIGND:
    case ZYDIS_MNEMONIC_PABSB:
    case ZYDIS_MNEMONIC_PABSW:
    case ZYDIS_MNEMONIC_PABSD:
        return true;
    default:
        return false;
    }
}

/// mm = f(mm, mm/m64) (or mm/m32 for punpckl*, imm8 for the shifts by immediate).
void op_mmx_binary(CpuCore& cpu, const DecodedOp& op) {
    check_mmx(cpu);
    const std::uint64_t b = read_source(cpu, op, 1);
    const unsigned destination = op.operands[0].index;
    set_mm(cpu, destination, compute(cpu, op, mm(cpu, destination), b));
    enter_mmx_state(cpu);
}

void op_mmx_ssse3(CpuCore& cpu, const DecodedOp& op) {
    cpu.require_feature(isa::ssse3);
    op_mmx_binary(cpu, op);
}

/// movd / movq / movntq / movq2dq / movdq2q: a copy of the low 32 or 64 bits, zero-extended.
void op_mmx_move(CpuCore& cpu, const DecodedOp& op) {
    check_mmx(cpu);
    const Operand& destination = op.operands[0];
    const unsigned size = destination.kind == OperandKind::Xmm ? 8 : destination.size;
    const std::uint64_t value = read_source(cpu, op, 1) & size_mask(size);
    switch (destination.kind) {
    case OperandKind::Mmx:
        set_mm(cpu, destination.index, value);
        break;
    case OperandKind::Xmm:
        cpu.fpu.xmm[destination.index] = Xmm{{value, 0}};
        break;
    case OperandKind::Gpr:
        cpu.set_reg_sized(size, destination.index, value);
        break;
    case OperandKind::Memory:
        cpu.write_sized(cpu.linear_address(op), size, value);
        break;
    default:
        cpu.fail("MMX move: unexpected destination");
    }
    enter_mmx_state(cpu);
}

void op_mmx_sse2_move(CpuCore& cpu, const DecodedOp& op) {
    // movq2dq and movdq2q: also SSE instructions, so CR4.OSFXSR must be set.
    if (!(cpu.cr4 & x86::cr4::osfxsr)) cpu.raise(x86::vector::invalid_opcode);
    op_mmx_move(cpu, op);
}

void op_pextrw_mm(CpuCore& cpu, const DecodedOp& op) {
    check_mmx(cpu);
    const std::uint64_t source = mm(cpu, op.operands[1].index);
    cpu.set_reg_sized(4, op.operands[0].index, lane<std::uint16_t>(source, op.immediate & 3));
    enter_mmx_state(cpu);
}

void op_pinsrw_mm(CpuCore& cpu, const DecodedOp& op) {
    check_mmx(cpu);
    const auto word = static_cast<std::uint16_t>(read_source(cpu, op, 1));
    std::uint64_t value = mm(cpu, op.operands[0].index);
    set_lane<std::uint16_t>(value, op.immediate & 3, word);
    set_mm(cpu, op.operands[0].index, value);
    enter_mmx_state(cpu);
}

void op_pmovmskb_mm(CpuCore& cpu, const DecodedOp& op) {
    check_mmx(cpu);
    const std::uint64_t source = mm(cpu, op.operands[1].index);
    std::uint64_t mask = 0;
    for (unsigned i = 0; i < 8; ++i)
        mask |= ((source >> (8 * i + 7)) & 1) << i;
    cpu.set_reg_sized(4, op.operands[0].index, mask);
    enter_mmx_state(cpu);
}

void op_maskmovq(CpuCore& cpu, const DecodedOp& op) {
    // Stores the bytes of mm1 whose mask byte in mm2 has its top bit set, to ds:[rdi].
    check_mmx(cpu);
    const std::uint64_t data = mm(cpu, op.operands[0].index);
    const std::uint64_t mask = mm(cpu, op.operands[1].index);
    const std::uint64_t base = cpu.gpr[x86::rdi] & size_mask(op.memory.address_size);
    for (unsigned i = 0; i < 8; ++i)
        if ((mask >> (8 * i + 7)) & 1) {
            const std::uint64_t offset = (base + i) & size_mask(op.memory.address_size);
            cpu.write<1>(cpu.linear(op.memory.segment, offset), (data >> (8 * i)) & 0xff);
        }
    enter_mmx_state(cpu);
}

/// cvtpi2ps, cvtpi2pd, cvtps2pi, cvttps2pi, cvtpd2pi, cvttpd2pi.
void op_mmx_convert(CpuCore& cpu, const DecodedOp& op) {
    // SSE instructions: #UD with CR0.EM or without CR4.OSFXSR, #NM with CR0.TS; naming an mm
    // register they are MMX instructions too (a pending x87 exception is #MF).
    if ((cpu.cr0 & x86::cr0::em) || !(cpu.cr4 & x86::cr4::osfxsr))
        cpu.raise(x86::vector::invalid_opcode);
    const bool names_mm =
        op.operands[0].kind == OperandKind::Mmx || op.operands[1].kind == OperandKind::Mmx;
    if (names_mm)
        check_mmx(cpu);
    else if (cpu.cr0 & x86::cr0::ts)
        cpu.raise(x86::vector::device_not_available);
    const Operand& source = op.operands[1];
    const bool double_source =
        op.mnemonic == ZYDIS_MNEMONIC_CVTPD2PI || op.mnemonic == ZYDIS_MNEMONIC_CVTTPD2PI;
    __m128i value = _mm_setzero_si128();
    if (source.kind == OperandKind::Xmm) {
        value = sse_host::load(cpu.fpu.xmm[source.index].q);
        if (!double_source) value = _mm_move_epi64(value); // the low two floats only
    } else if (source.kind == OperandKind::Memory && double_source) {
        const std::uint64_t address = cpu.linear_address(op);
        if (address & 15) cpu.raise(x86::vector::general_protection, 0);
        std::uint64_t q[2] = {cpu.read<8>(address), cpu.read<8>(address + 8)};
        value = sse_host::load(q);
    } else {
        value = _mm_cvtsi64_si128(static_cast<long long>(read_source(cpu, op, 1)));
    }
    __m128i result;
    switch (op.mnemonic) {
    case ZYDIS_MNEMONIC_CVTPI2PS:
        result = sse_host::under_guest_mxcsr(
            cpu, [&] { return sse_host::as_bits(_mm_cvtepi32_ps(value)); });
        break;
    case ZYDIS_MNEMONIC_CVTPI2PD:
        result = sse_host::as_bits(_mm_cvtepi32_pd(value)); // exact
        break;
    case ZYDIS_MNEMONIC_CVTPS2PI:
        result = sse_host::under_guest_mxcsr(
            cpu, [&] { return _mm_cvtps_epi32(sse_host::as_float(value)); });
        break;
    case ZYDIS_MNEMONIC_CVTTPS2PI:
        result = sse_host::under_guest_mxcsr(
            cpu, [&] { return _mm_cvttps_epi32(sse_host::as_float(value)); });
        break;
    case ZYDIS_MNEMONIC_CVTPD2PI:
        result = sse_host::under_guest_mxcsr(
            cpu, [&] { return _mm_cvtpd_epi32(sse_host::as_double(value)); });
        break;
    default: // cvttpd2pi
        result = sse_host::under_guest_mxcsr(
            cpu, [&] { return _mm_cvttpd_epi32(sse_host::as_double(value)); });
        break;
    }
    const Operand& destination = op.operands[0];
    std::uint64_t q[2];
    sse_host::store(q, result);
    if (destination.kind == OperandKind::Mmx) {
        set_mm(cpu, destination.index, q[0]);
    } else if (op.mnemonic == ZYDIS_MNEMONIC_CVTPI2PD) {
        cpu.fpu.xmm[destination.index] = Xmm{{q[0], q[1]}};
    } else {
        cpu.fpu.xmm[destination.index].q[0] = q[0]; // cvtpi2ps keeps the high two floats
    }
    if (names_mm) enter_mmx_state(cpu);
}

void op_emms(CpuCore& cpu, const DecodedOp&) {
    check_mmx(cpu);
    cpu.fpu.tag_valid = 0;
}

} // namespace

OpHandler select_mmx_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_EMMS:
        return &op_emms;
    case ZYDIS_MNEMONIC_CVTPI2PS:
    case ZYDIS_MNEMONIC_CVTPI2PD:
    case ZYDIS_MNEMONIC_CVTPS2PI:
    case ZYDIS_MNEMONIC_CVTTPS2PI:
    case ZYDIS_MNEMONIC_CVTPD2PI:
    case ZYDIS_MNEMONIC_CVTTPD2PI:
        return &op_mmx_convert;
    default:
        break;
    }
    bool names_mm = false;
    for (const Operand& operand : op.operands)
        names_mm = names_mm || operand.kind == OperandKind::Mmx;
    if (!names_mm) return nullptr;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_MOVD:
    case ZYDIS_MNEMONIC_MOVQ:
    case ZYDIS_MNEMONIC_MOVNTQ:
        return &op_mmx_move;
    case ZYDIS_MNEMONIC_MOVQ2DQ:
    case ZYDIS_MNEMONIC_MOVDQ2Q:
        return &op_mmx_sse2_move;
    case ZYDIS_MNEMONIC_PEXTRW:
        return &op_pextrw_mm;
    case ZYDIS_MNEMONIC_PINSRW:
        return &op_pinsrw_mm;
    case ZYDIS_MNEMONIC_PMOVMSKB:
        return &op_pmovmskb_mm;
    case ZYDIS_MNEMONIC_MASKMOVQ:
        return &op_maskmovq;
    default:
        break;
    }
    if (op.operands[0].kind != OperandKind::Mmx) return nullptr;
    if (is_ssse3(instruction.mnemonic)) return &op_mmx_ssse3;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_PADDB:
    case ZYDIS_MNEMONIC_PADDW:
    case ZYDIS_MNEMONIC_PADDD:
    case ZYDIS_MNEMONIC_PADDQ:
    case ZYDIS_MNEMONIC_PSUBB:
    case ZYDIS_MNEMONIC_PSUBW:
    case ZYDIS_MNEMONIC_PSUBD:
    case ZYDIS_MNEMONIC_PSUBQ:
    case ZYDIS_MNEMONIC_PADDSB:
    case ZYDIS_MNEMONIC_PADDSW:
    case ZYDIS_MNEMONIC_PADDUSB:
    case ZYDIS_MNEMONIC_PADDUSW:
    case ZYDIS_MNEMONIC_PSUBSB:
    case ZYDIS_MNEMONIC_PSUBSW:
    case ZYDIS_MNEMONIC_PSUBUSB:
    case ZYDIS_MNEMONIC_PSUBUSW:
    case ZYDIS_MNEMONIC_PAND:
    case ZYDIS_MNEMONIC_PANDN:
    case ZYDIS_MNEMONIC_POR:
    case ZYDIS_MNEMONIC_PXOR:
    case ZYDIS_MNEMONIC_PCMPEQB:
    case ZYDIS_MNEMONIC_PCMPEQW:
    case ZYDIS_MNEMONIC_PCMPEQD:
    case ZYDIS_MNEMONIC_PCMPGTB:
    case ZYDIS_MNEMONIC_PCMPGTW:
    case ZYDIS_MNEMONIC_PCMPGTD:
    case ZYDIS_MNEMONIC_PMULLW:
    case ZYDIS_MNEMONIC_PMULHW:
    case ZYDIS_MNEMONIC_PMULHUW:
    case ZYDIS_MNEMONIC_PMULUDQ:
    case ZYDIS_MNEMONIC_PMADDWD:
    case ZYDIS_MNEMONIC_PAVGB:
    case ZYDIS_MNEMONIC_PAVGW:
    case ZYDIS_MNEMONIC_PMAXSW:
    case ZYDIS_MNEMONIC_PMINSW:
    case ZYDIS_MNEMONIC_PMAXUB:
    case ZYDIS_MNEMONIC_PMINUB:
    case ZYDIS_MNEMONIC_PSADBW:
    case ZYDIS_MNEMONIC_PACKSSWB:
    case ZYDIS_MNEMONIC_PACKSSDW:
    case ZYDIS_MNEMONIC_PACKUSWB:
    case ZYDIS_MNEMONIC_PUNPCKLBW:
    case ZYDIS_MNEMONIC_PUNPCKLWD:
    case ZYDIS_MNEMONIC_PUNPCKLDQ:
    case ZYDIS_MNEMONIC_PUNPCKHBW:
    case ZYDIS_MNEMONIC_PUNPCKHWD:
    case ZYDIS_MNEMONIC_PUNPCKHDQ:
    case ZYDIS_MNEMONIC_PSLLW:
    case ZYDIS_MNEMONIC_PSLLD:
    case ZYDIS_MNEMONIC_PSLLQ:
    case ZYDIS_MNEMONIC_PSRLW:
    case ZYDIS_MNEMONIC_PSRLD:
    case ZYDIS_MNEMONIC_PSRLQ:
    case ZYDIS_MNEMONIC_PSRAW:
    case ZYDIS_MNEMONIC_PSRAD:
    case ZYDIS_MNEMONIC_PSHUFW:
        return &op_mmx_binary;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
