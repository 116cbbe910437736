// The 16 condition codes of jcc/setcc/cmovcc, in encoding order (Intel SDM Vol. 1, B.1).
#pragma once

#include <cstdint>

namespace vessel::x86 {

/// The low bit negates the condition of the even code below it.
enum class Condition : std::uint8_t {
    overflow = 0x0,         ///< o: OF
    not_overflow = 0x1,     ///< no
    below = 0x2,            ///< b/c: CF
    above_or_equal = 0x3,   ///< ae/nc
    equal = 0x4,            ///< e/z: ZF
    not_equal = 0x5,        ///< ne/nz
    below_or_equal = 0x6,   ///< be: CF or ZF
    above = 0x7,            ///< a
    sign = 0x8,             ///< s: SF
    not_sign = 0x9,         ///< ns
    parity = 0xa,           ///< p: PF
    not_parity = 0xb,       ///< np
    less = 0xc,             ///< l: SF != OF
    greater_or_equal = 0xd, ///< ge
    less_or_equal = 0xe,    ///< le: ZF or SF != OF
    greater = 0xf,          ///< g
};

/// The condition whose result the low bit negates (`code` with bit 0 clear).
constexpr Condition base_condition(unsigned code) {
    return static_cast<Condition>(code & 0xe);
}
/// Bit 0 of a condition code: the result of the even code is negated.
constexpr bool negated(unsigned code) {
    return (code & 1) != 0;
}

} // namespace vessel::x86
