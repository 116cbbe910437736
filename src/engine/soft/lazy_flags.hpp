// LazyFlags: arithmetic flags kept as the last operation's inputs and result, computed on demand.
#pragma once

#include <cstdint>

#include "arch/x86/cpu_state.hpp"

namespace vessel::soft {

/// The operation whose result the arithmetic flags (CF PF AF ZF SF OF) currently describe.
/// Explicit: CF and OF given directly (src bit 0 and dst bit 0), PF ZF SF from the result, AF
/// clear (multiplies and shifts, where AF is undefined).
enum class FlagOp : std::uint8_t { None, Add, Adc, Sub, Sbb, Logic, Inc, Dec, Explicit };

/// Mask of the low `size` bytes.
constexpr std::uint64_t size_mask(unsigned size) {
    return size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * size)) - 1;
}
constexpr std::uint64_t sign_bit(unsigned size) {
    return std::uint64_t{1} << (8 * size - 1);
}

constexpr std::uint64_t arithmetic_flags = x86::rflags::cf | x86::rflags::pf | x86::rflags::af |
                                           x86::rflags::zf | x86::rflags::sf | x86::rflags::of;

/// Parity, zero and sign flags of a result (Intel SDM Vol. 1, 3.4.3.1).
inline std::uint64_t result_flags(std::uint64_t result, unsigned size) {
    std::uint64_t flags = 0;
    if (!__builtin_parity(static_cast<unsigned>(result & 0xff))) flags |= x86::rflags::pf;
    if ((result & size_mask(size)) == 0) flags |= x86::rflags::zf;
    if (result & sign_bit(size)) flags |= x86::rflags::sf;
    return flags;
}

/// The state the last flag-setting operation left behind.
struct LazyFlags {
    FlagOp op{FlagOp::None};
    std::uint8_t size{4};
    bool carry_in{false}; ///< adc/sbb carry input, or the preserved CF of inc/dec
    std::uint64_t dst{0}, src{0}, result{0};

    bool carry() const {
        const std::uint64_t mask = size_mask(size);
        const std::uint64_t d = dst & mask, s = src & mask, r = result & mask;
        switch (op) {
        case FlagOp::Add:
            return r < d;
        case FlagOp::Adc:
            return r < d || (carry_in && r == d);
        case FlagOp::Sub:
            return d < s;
        case FlagOp::Sbb:
            return d < s || (carry_in && d == s);
        case FlagOp::Inc:
        case FlagOp::Dec:
            return carry_in;
        case FlagOp::Explicit:
            return src & 1;
        default:
            return false;
        }
    }

    bool zero() const { return (result & size_mask(size)) == 0; }
    bool sign() const { return (result & sign_bit(size)) != 0; }
    bool overflow() const {
        const std::uint64_t sign_mask = sign_bit(size);
        switch (op) {
        case FlagOp::Add:
        case FlagOp::Adc:
        case FlagOp::Inc:
            return ((dst ^ result) & (src ^ result) & sign_mask) != 0;
        case FlagOp::Sub:
        case FlagOp::Sbb:
        case FlagOp::Dec:
            return ((dst ^ src) & (dst ^ result) & sign_mask) != 0;
        case FlagOp::Explicit:
            return dst & 1;
        default:
            return false;
        }
    }

    /// All six arithmetic flags.
    std::uint64_t compute() const {
        std::uint64_t flags = result_flags(result, size);
        if (carry()) flags |= x86::rflags::cf;
        const std::uint64_t sign = sign_bit(size);
        switch (op) {
        case FlagOp::Add:
        case FlagOp::Adc:
        case FlagOp::Inc:
            if ((dst ^ result) & (src ^ result) & sign) flags |= x86::rflags::of;
            flags |= (dst ^ src ^ result) & x86::rflags::af;
            break;
        case FlagOp::Sub:
        case FlagOp::Sbb:
        case FlagOp::Dec:
            if ((dst ^ src) & (dst ^ result) & sign) flags |= x86::rflags::of;
            flags |= (dst ^ src ^ result) & x86::rflags::af;
            break;
        case FlagOp::Explicit:
            if (dst & 1) flags |= x86::rflags::of;
            break;
        default:
            break;
        }
        return flags;
    }
};

} // namespace vessel::soft
