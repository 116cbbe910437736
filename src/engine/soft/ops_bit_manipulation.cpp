// Bit-manipulation handlers on general-purpose registers: popcnt, lzcnt/tzcnt (bsr/bsf on a
// model without them, as on hardware, where f3 0f bc/bd are rep-prefixed bsf/bsr), movbe, and the
// VEX-encoded BMI1 and BMI2 instructions (Intel SDM Vol. 2).
#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"

namespace vessel::soft {

namespace {

constexpr std::uint64_t zf = x86::rflags::zf;

template <unsigned S> unsigned leading_zeros(std::uint64_t value) {
    return value == 0 ? 8 * S : static_cast<unsigned>(__builtin_clzll(value)) - (64 - 8 * S);
}

template <unsigned S> unsigned trailing_zeros(std::uint64_t value) {
    return value == 0 ? 8 * S : static_cast<unsigned>(__builtin_ctzll(value));
}

/// popcnt: ZF when the source is 0, every other arithmetic flag clear.
template <unsigned S> void op_popcnt(CpuCore& cpu, const DecodedOp& op) {
    cpu.require_feature(isa::popcnt);
    const std::uint64_t value = read_operand<S>(cpu, op, 1);
    write_operand<S>(cpu, op, 0, static_cast<std::uint64_t>(__builtin_popcountll(value)));
    cpu.set_flags((cpu.flags() & ~arithmetic_flags) | (value == 0 ? zf : 0));
}

/// lzcnt/tzcnt: CF when the source is 0, ZF when the count is 0. Without the extension the
/// encoding is bsr/bsf: ZF when the source is 0 and the destination kept.
template <unsigned S, bool Leading> void op_count_zeros(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t value = read_operand<S>(cpu, op, 1);
    if (!cpu.has_feature(Leading ? isa::lzcnt : isa::bmi1)) {
        std::uint64_t flags = cpu.flags() & ~arithmetic_flags;
        if (value == 0) {
            cpu.set_flags(flags | zf);
            return;
        }
        write_operand<S>(cpu, op, 0,
                         Leading ? 63 - static_cast<unsigned>(__builtin_clzll(value))
                                 : static_cast<unsigned>(__builtin_ctzll(value)));
        cpu.set_flags(flags);
        return;
    }
    const unsigned count = Leading ? leading_zeros<S>(value) : trailing_zeros<S>(value);
    write_operand<S>(cpu, op, 0, count);
    cpu.set_explicit_flags(S, count, value == 0, false);
}

/// movbe: a load or store with the bytes reversed.
template <unsigned S> void op_movbe(CpuCore& cpu, const DecodedOp& op) {
    cpu.require_feature(isa::movbe);
    const std::uint64_t value = read_operand<S>(cpu, op, 1);
    std::uint64_t swapped = __builtin_bswap64(value) >> (64 - 8 * S);
    write_operand<S>(cpu, op, 0, swapped);
}

enum class Bmi { Andn, Bextr, Blsi, Blsmsk, Blsr, Bzhi, Pdep, Pext, Rorx, Sarx, Shlx, Shrx };

/// Parallel bit deposit: the low bits of `source` to the set bits of `mask`, in order.
std::uint64_t deposit(std::uint64_t source, std::uint64_t mask) {
    std::uint64_t result = 0;
    for (std::uint64_t bit = 1; mask != 0; bit <<= 1) {
        const std::uint64_t lowest = mask & -mask;
        if (source & bit) result |= lowest;
        mask &= mask - 1;
    }
    return result;
}

/// Parallel bit extract: the bits of `source` under the set bits of `mask`, packed low.
std::uint64_t extract(std::uint64_t source, std::uint64_t mask) {
    std::uint64_t result = 0;
    for (std::uint64_t bit = 1; mask != 0; bit <<= 1) {
        const std::uint64_t lowest = mask & -mask;
        if (source & lowest) result |= bit;
        mask &= mask - 1;
    }
    return result;
}

/// BMI1/BMI2 three-operand forms; operand 0 is the destination register.
template <unsigned S, Bmi K> void op_bmi(CpuCore& cpu, const DecodedOp& op) {
    constexpr unsigned bits = 8 * S;
    constexpr bool bmi2 = K == Bmi::Bzhi || K == Bmi::Pdep || K == Bmi::Pext || K == Bmi::Rorx ||
                          K == Bmi::Sarx || K == Bmi::Shlx || K == Bmi::Shrx;
    cpu.require_feature(bmi2 ? isa::bmi2 : isa::bmi1);
    const std::uint64_t mask = size_mask(S);
    const std::uint64_t a = read_operand<S>(cpu, op, 1);
    const std::uint64_t b =
        op.operands[2].kind == OperandKind::None ? 0 : read_operand<S>(cpu, op, 2);
    std::uint64_t result = 0;
    switch (K) {
    case Bmi::Andn:
        result = ~a & b & mask;
        cpu.set_explicit_flags(S, result, false, false);
        break;
    case Bmi::Bextr: {
        const unsigned start = b & 0xff, length = (b >> 8) & 0xff;
        result = start >= bits ? 0 : a >> start;
        if (length < 64) result &= (std::uint64_t{1} << length) - 1;
        result &= mask;
        cpu.set_explicit_flags(S, result, false, false);
        break;
    }
    case Bmi::Blsi:
        result = a & (0 - a) & mask;
        cpu.set_explicit_flags(S, result, a != 0, false);
        break;
    case Bmi::Blsmsk:
        result = (a ^ (a - 1)) & mask;
        cpu.set_explicit_flags(S, result, a == 0, false);
        break;
    case Bmi::Blsr:
        result = a & (a - 1) & mask;
        cpu.set_explicit_flags(S, result, a == 0, false);
        break;
    case Bmi::Bzhi: {
        const unsigned index = b & 0xff;
        result = index >= bits ? a : a & ((std::uint64_t{1} << index) - 1);
        cpu.set_explicit_flags(S, result, index > bits - 1, false);
        break;
    }
    case Bmi::Pdep:
        result = deposit(a, b) & mask;
        break;
    case Bmi::Pext:
        result = extract(a, b) & mask;
        break;
    case Bmi::Rorx: {
        const unsigned count = op.immediate & (bits - 1);
        result = count == 0 ? a : ((a >> count) | (a << (bits - count))) & mask;
        break;
    }
    case Bmi::Sarx:
        result = static_cast<std::uint64_t>(sign_extend(a, S) >> (b & (bits - 1))) & mask;
        break;
    case Bmi::Shlx:
        result = (a << (b & (bits - 1))) & mask;
        break;
    case Bmi::Shrx:
        result = a >> (b & (bits - 1));
        break;
    }
    write_operand<S>(cpu, op, 0, result);
}

/// mulx hi, lo, src: rdx * src unsigned, flags untouched; hi is written last (it wins when both
/// name the same register).
template <unsigned S> void op_mulx(CpuCore& cpu, const DecodedOp& op) {
    cpu.require_feature(isa::bmi2);
    const std::uint64_t source = read_operand<S>(cpu, op, 2);
    const unsigned __int128 product = static_cast<unsigned __int128>(cpu.reg<S>(x86::rdx)) * source;
    write_operand<S>(cpu, op, 1, static_cast<std::uint64_t>(product));
    write_operand<S>(cpu, op, 0, static_cast<std::uint64_t>(product >> (8 * S)));
}

} // namespace

OpHandler select_bit_manipulation_handler(const ZydisDecodedInstruction& instruction,
                                          DecodedOp& op) {
    const unsigned size = op.operand_size;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_POPCNT:
        return BY_SIZE(size, op_popcnt);
    case ZYDIS_MNEMONIC_LZCNT:
        return BY_SIZE(size, op_count_zeros, true);
    case ZYDIS_MNEMONIC_TZCNT:
        return BY_SIZE(size, op_count_zeros, false);
    case ZYDIS_MNEMONIC_MOVBE:
        return BY_SIZE(size, op_movbe);
    case ZYDIS_MNEMONIC_ANDN:
        return BY_SIZE(size, op_bmi, Bmi::Andn);
    case ZYDIS_MNEMONIC_BEXTR:
        return BY_SIZE(size, op_bmi, Bmi::Bextr);
    case ZYDIS_MNEMONIC_BLSI:
        return BY_SIZE(size, op_bmi, Bmi::Blsi);
    case ZYDIS_MNEMONIC_BLSMSK:
        return BY_SIZE(size, op_bmi, Bmi::Blsmsk);
    case ZYDIS_MNEMONIC_BLSR:
        return BY_SIZE(size, op_bmi, Bmi::Blsr);
    case ZYDIS_MNEMONIC_BZHI:
        return BY_SIZE(size, op_bmi, Bmi::Bzhi);
    case ZYDIS_MNEMONIC_PDEP:
        return BY_SIZE(size, op_bmi, Bmi::Pdep);
    case ZYDIS_MNEMONIC_PEXT:
        return BY_SIZE(size, op_bmi, Bmi::Pext);
    case ZYDIS_MNEMONIC_RORX:
        return BY_SIZE(size, op_bmi, Bmi::Rorx);
    case ZYDIS_MNEMONIC_SARX:
        return BY_SIZE(size, op_bmi, Bmi::Sarx);
    case ZYDIS_MNEMONIC_SHLX:
        return BY_SIZE(size, op_bmi, Bmi::Shlx);
    case ZYDIS_MNEMONIC_SHRX:
        return BY_SIZE(size, op_bmi, Bmi::Shrx);
    case ZYDIS_MNEMONIC_MULX:
        return BY_SIZE(size, op_mulx);
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
