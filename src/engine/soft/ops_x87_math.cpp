// x87 handlers beyond the common subset: transcendental functions, scaling, remainders,
// classification, conditional moves, integer compares, packed BCD and stack-pointer moves.
#include <cmath>
#include <cstring>

#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/x87_stack.hpp"

namespace vessel::soft {

namespace {

using namespace x87;

/// fsin/fcos/fsincos/fptan leave the operand alone and set C2 when |x| >= 2^63
/// (Intel SDM Vol. 2, FSIN: "source operand out of range").
constexpr long double trig_limit = 9223372036854775808.0L;
constexpr long double ln2 = 0.693147180559945309417232121458176568L;

bool trig_out_of_range(CpuCore& cpu) {
    if (std::fabs(st(cpu, 0)) < trig_limit) {
        set_conditions(cpu, 0);
        return false;
    }
    set_conditions(cpu, status_c2);
    return true;
}

void op_fsin(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    if (!trig_out_of_range(cpu)) st(cpu, 0) = std::sin(st(cpu, 0));
}

void op_fcos(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    if (!trig_out_of_range(cpu)) st(cpu, 0) = std::cos(st(cpu, 0));
}

/// fsincos: ST(0) = cos, ST(1) = sin.
void op_fsincos(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    if (trig_out_of_range(cpu)) return;
    const long double x = st(cpu, 0);
    st(cpu, 0) = std::sin(x);
    push(cpu, std::cos(x));
}

/// fptan: ST(0) = tan, then 1.0 is pushed (for compatibility with the 8087).
void op_fptan(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    if (trig_out_of_range(cpu)) return;
    st(cpu, 0) = std::tan(st(cpu, 0));
    push(cpu, 1.0L);
}

/// fpatan: ST(1) = arctan(ST(1) / ST(0)) with the quadrant of both signs, then pop.
void op_fpatan(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    st(cpu, 1) = std::atan2(st(cpu, 1), st(cpu, 0));
    pop(cpu);
}

/// f2xm1: ST(0) = 2^ST(0) - 1 (defined for -1 <= ST(0) <= 1).
void op_f2xm1(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    st(cpu, 0) = std::expm1(st(cpu, 0) * ln2);
}

/// fyl2x: ST(1) = ST(1) * log2(ST(0)), then pop.
void op_fyl2x(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    st(cpu, 1) = st(cpu, 1) * std::log2(st(cpu, 0));
    pop(cpu);
}

/// fyl2xp1: ST(1) = ST(1) * log2(ST(0) + 1), then pop.
void op_fyl2xp1(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    st(cpu, 1) = st(cpu, 1) * (std::log1p(st(cpu, 0)) / ln2);
    pop(cpu);
}

/// fscale: ST(0) = ST(0) * 2^trunc(ST(1)).
void op_fscale(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    const long double scale = std::trunc(st(cpu, 1));
    // Beyond +-2^20 the result has over- or underflowed whatever ST(0) is.
    const long double clamped = std::fmax(std::fmin(scale, 1048576.0L), -1048576.0L);
    if (!std::isnan(scale)) st(cpu, 0) = std::ldexp(st(cpu, 0), static_cast<int>(clamped));
}

/// fxtract: ST(0) = exponent, then the significand is pushed (1.0 <= |significand| < 2.0).
void op_fxtract(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    const long double x = st(cpu, 0);
    if (x == 0) {
        st(cpu, 0) = -INFINITY;
        push(cpu, x);
        return;
    }
    const long double exponent = std::logb(x);
    st(cpu, 0) = exponent;
    push(cpu, std::isfinite(exponent) ? std::scalbn(x, -static_cast<int>(exponent)) : x);
}

/// fprem (truncating quotient) and fprem1 (IEEE, round-to-nearest quotient). The host computes
/// the exact remainder in one step, so C2 (incomplete) is always clear; C0, C3 and C1 receive
/// quotient bits 2, 1 and 0 (Intel SDM Vol. 2, FPREM).
template <bool Ieee> void op_fprem(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    const long double dividend = st(cpu, 0), divisor = st(cpu, 1);
    int quotient = 0;
    long double remainder;
    if (Ieee) {
        remainder = std::remquo(dividend, divisor, &quotient);
    } else {
        remainder = std::fmod(dividend, divisor);
        const long double whole = std::trunc(dividend / divisor);
        quotient = static_cast<int>(std::fmod(std::fabs(whole), 8.0L));
    }
    st(cpu, 0) = remainder;
    const unsigned bits = static_cast<unsigned>(quotient < 0 ? -quotient : quotient) & 7;
    std::uint16_t conditions = 0;
    if (bits & 4) conditions |= status_c0;
    if (bits & 2) conditions |= status_c3;
    if (bits & 1) conditions |= status_c1;
    set_conditions(cpu, conditions);
}

/// fxam: classifies ST(0) into C3/C2/C0 and puts its sign in C1 (Intel SDM Vol. 2, FXAM).
void op_fxam(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    const long double x = st(cpu, 0);
    std::uint16_t conditions = std::signbit(x) ? status_c1 : 0;
    if (st_empty(cpu, 0))
        conditions |= status_c3 | status_c0;
    else if (std::isnan(x))
        conditions |= status_c0;
    else if (std::isinf(x))
        conditions |= status_c2 | status_c0;
    else if (x == 0)
        conditions |= status_c3;
    else if (std::fpclassify(x) == FP_SUBNORMAL)
        conditions |= status_c3 | status_c2;
    else
        conditions |= status_c2;
    set_conditions(cpu, conditions);
}

/// fcmovcc: ST(0) = ST(i) when the EFLAGS condition holds (the same codes as cmovcc).
void op_fcmov(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    if (cpu.condition(op.condition)) st(cpu, 0) = st(cpu, op.operands[1].index);
}

/// ficom/ficomp: compares ST(0) with a 16- or 32-bit integer in memory.
template <bool Pop> void op_ficom(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    const unsigned size = op.operands[0].size;
    const auto other =
        static_cast<long double>(sign_extend(cpu.read_sized(cpu.linear_address(op), size), size));
    const long double value = st(cpu, 0);
    if (std::isunordered(value, other))
        set_conditions(cpu, status_c0 | status_c2 | status_c3);
    else if (value < other)
        set_conditions(cpu, status_c0);
    else if (value == other)
        set_conditions(cpu, status_c3);
    else
        set_conditions(cpu, 0);
    if (Pop) pop(cpu);
}

/// fincstp/fdecstp move TOP without touching tags or values.
template <int Delta> void op_fmove_top(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    cpu.fpu.top = static_cast<std::uint8_t>((cpu.fpu.top + Delta) & 7);
    set_conditions(cpu, 0);
}

/// Packed BCD (Intel SDM Vol. 1, 4.7): 9 bytes of two digits each, low digits first, and a
/// sign byte (bit 7).
constexpr unsigned bcd_bytes = 10;

void op_fbld(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    std::uint8_t bytes[bcd_bytes];
    cpu.read_block(cpu.linear_address(op), bytes, bcd_bytes);
    long double value = 0;
    for (int i = 8; i >= 0; --i)
        value = value * 100 + (bytes[i] >> 4) * 10 + (bytes[i] & 0xf);
    push(cpu, (bytes[9] & 0x80) ? -value : value);
}

void op_fbstp(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    const long double value = std::nearbyint(st(cpu, 0));
    std::uint8_t bytes[bcd_bytes] = {};
    if (std::isnan(value) || std::fabs(value) >= 1e18L) {
        // The packed BCD indefinite: FFFF C000 0000 0000 0000 (Intel SDM Vol. 1, table 4-11).
        bytes[9] = 0xff;
        bytes[8] = 0xff;
        bytes[7] = 0xc0;
    } else {
        auto magnitude = static_cast<std::uint64_t>(std::fabs(value));
        for (unsigned i = 0; i < 9; ++i) {
            const unsigned low = magnitude % 10, high = (magnitude / 10) % 10;
            bytes[i] = static_cast<std::uint8_t>((high << 4) | low);
            magnitude /= 100;
        }
        if (std::signbit(value)) bytes[9] = 0x80;
    }
    cpu.write_block(cpu.linear_address(op), bytes, bcd_bytes);
    pop(cpu);
}

} // namespace

/// Condition codes (Intel SDM Vol. 1, B.1) of the fcmovcc forms, which take them from the
/// mnemonic rather than from the opcode's low nibble as jcc/setcc/cmovcc do.
static std::uint8_t fcmov_condition(ZydisMnemonic mnemonic) {
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_FCMOVB:
        return 0x2;
    case ZYDIS_MNEMONIC_FCMOVNB:
        return 0x3;
    case ZYDIS_MNEMONIC_FCMOVE:
        return 0x4;
    case ZYDIS_MNEMONIC_FCMOVNE:
        return 0x5;
    case ZYDIS_MNEMONIC_FCMOVBE:
        return 0x6;
    case ZYDIS_MNEMONIC_FCMOVNBE:
        return 0x7;
    case ZYDIS_MNEMONIC_FCMOVU:
        return 0xa;
    default: // FCMOVNU
        return 0xb;
    }
}

OpHandler select_x87_math_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_FSIN:
        return &op_fsin;
    case ZYDIS_MNEMONIC_FCOS:
        return &op_fcos;
    case ZYDIS_MNEMONIC_FSINCOS:
        return &op_fsincos;
    case ZYDIS_MNEMONIC_FPTAN:
        return &op_fptan;
    case ZYDIS_MNEMONIC_FPATAN:
        return &op_fpatan;
    case ZYDIS_MNEMONIC_F2XM1:
        return &op_f2xm1;
    case ZYDIS_MNEMONIC_FYL2X:
        return &op_fyl2x;
    case ZYDIS_MNEMONIC_FYL2XP1:
        return &op_fyl2xp1;
    case ZYDIS_MNEMONIC_FSCALE:
        return &op_fscale;
    case ZYDIS_MNEMONIC_FXTRACT:
        return &op_fxtract;
    case ZYDIS_MNEMONIC_FPREM:
        return &op_fprem<false>;
    case ZYDIS_MNEMONIC_FPREM1:
        return &op_fprem<true>;
    case ZYDIS_MNEMONIC_FXAM:
        return &op_fxam;
    case ZYDIS_MNEMONIC_FCMOVB:
    case ZYDIS_MNEMONIC_FCMOVBE:
    case ZYDIS_MNEMONIC_FCMOVE:
    case ZYDIS_MNEMONIC_FCMOVNB:
    case ZYDIS_MNEMONIC_FCMOVNBE:
    case ZYDIS_MNEMONIC_FCMOVNE:
    case ZYDIS_MNEMONIC_FCMOVNU:
    case ZYDIS_MNEMONIC_FCMOVU:
        op.condition = fcmov_condition(instruction.mnemonic);
        return &op_fcmov;
    case ZYDIS_MNEMONIC_FICOM:
        return &op_ficom<false>;
    case ZYDIS_MNEMONIC_FICOMP:
        return &op_ficom<true>;
    case ZYDIS_MNEMONIC_FINCSTP:
        return &op_fmove_top<1>;
    case ZYDIS_MNEMONIC_FDECSTP:
        return &op_fmove_top<-1>;
    case ZYDIS_MNEMONIC_FBLD:
        return &op_fbld;
    case ZYDIS_MNEMONIC_FBSTP:
        return &op_fbstp;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
