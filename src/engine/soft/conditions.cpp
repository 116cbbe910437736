// CpuCore::condition: evaluates the 16 jcc/setcc/cmovcc conditions, from the lazy flag state
// where it can.
#include "arch/x86/condition_codes.hpp"
#include "engine/soft/cpu_core.hpp"

namespace vessel::soft {

bool CpuCore::condition(unsigned code) {
    using enum x86::Condition;
    using x86::base_condition, x86::negated;
    if (lazy.op == FlagOp::Sub) {
        // cmp/sub fast path: compare the operands directly.
        const unsigned shift = 64 - 8 * lazy.size;
        const std::uint64_t d = lazy.dst << shift >> shift, s = lazy.src << shift >> shift;
        const auto sd = static_cast<std::int64_t>(lazy.dst << shift) >> shift;
        const auto ss_ = static_cast<std::int64_t>(lazy.src << shift) >> shift;
        switch (static_cast<x86::Condition>(code)) {
        case below:
            return d < s;
        case above_or_equal:
            return d >= s;
        case equal:
            return d == s;
        case not_equal:
            return d != s;
        case below_or_equal:
            return d <= s;
        case above:
            return d > s;
        case less:
            return sd < ss_;
        case greater_or_equal:
            return sd >= ss_;
        case less_or_equal:
            return sd <= ss_;
        case greater:
            return sd > ss_;
        default:
            break;
        }
    }
    bool cf, zf, sf, of, pf = false;
    if (lazy.op != FlagOp::None && base_condition(code) != parity) {
        // Everything but PF straight from the lazy state, without materialising RFLAGS.
        cf = lazy.carry();
        zf = lazy.zero();
        sf = lazy.sign();
        of = lazy.overflow();
    } else {
        const std::uint64_t f = flags();
        cf = f & x86::rflags::cf;
        zf = f & x86::rflags::zf;
        sf = f & x86::rflags::sf;
        of = f & x86::rflags::of;
        pf = f & x86::rflags::pf;
    }
    bool result = false;
    switch (base_condition(code)) {
    case overflow:
        result = of;
        break;
    case below:
        result = cf;
        break;
    case equal:
        result = zf;
        break;
    case below_or_equal:
        result = cf || zf;
        break;
    case sign:
        result = sf;
        break;
    case parity:
        result = pf;
        break;
    case less:
        result = sf != of;
        break;
    case less_or_equal:
    default: // base_condition() is always one of the even codes above
        result = zf || (sf != of);
        break;
    }
    return negated(code) ? !result : result;
}

} // namespace vessel::soft
