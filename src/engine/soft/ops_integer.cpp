// Integer instruction handlers: moves, ALU, shifts, multiply/divide, bit operations, exchanges.
#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"

namespace vessel::soft {

namespace {

using x86::rflags::cf;
using x86::rflags::of;
using x86::rflags::zf;

// ---- moves ----

template <unsigned S> void op_mov(CpuCore& cpu, const DecodedOp& op) {
    write_operand<S>(cpu, op, 0, read_operand<S>(cpu, op, 1));
}

/// movzx/movsx: operand 1 has its own (smaller) size.
template <unsigned S, bool Signed> void op_move_extend(CpuCore& cpu, const DecodedOp& op) {
    std::uint64_t value = 0;
    const unsigned source_size = op.operands[1].size;
    switch (source_size) {
    case 1:
        value = read_operand<1>(cpu, op, 1);
        break;
    case 2:
        value = read_operand<2>(cpu, op, 1);
        break;
    default:
        value = read_operand<4>(cpu, op, 1);
        break;
    }
    if (Signed) value = static_cast<std::uint64_t>(sign_extend(value, source_size));
    write_operand<S>(cpu, op, 0, value);
}

template <unsigned S> void op_lea(CpuCore& cpu, const DecodedOp& op) {
    write_operand<S>(cpu, op, 0, cpu.effective_address(op));
}

template <unsigned S> void op_cmov(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t value = read_operand<S>(cpu, op, 1); // reads (and may fault) either way
    if (cpu.condition(op.condition))
        write_operand<S>(cpu, op, 0, value);
    else if (S == 4 && op.operands[0].kind == OperandKind::Gpr)
        cpu.set_reg<4>(op.operands[0].index, cpu.reg<4>(op.operands[0].index));
}

template <unsigned S> void op_setcc(CpuCore& cpu, const DecodedOp& op) {
    write_operand<1>(cpu, op, 0, cpu.condition(op.condition) ? 1 : 0);
}

template <unsigned S> void op_xchg(CpuCore& cpu, const DecodedOp& op) {
    if (op.operands[0].kind == OperandKind::Memory || op.operands[1].kind == OperandKind::Memory) {
        // xchg with memory is always locked (Intel SDM Vol. 2, XCHG).
        const unsigned memory_index = op.operands[0].kind == OperandKind::Memory ? 0 : 1;
        const unsigned register_index = 1 - memory_index;
        const std::uint64_t value = read_operand<S>(cpu, op, register_index);
        const std::uint64_t address = cpu.linear_address(op);
        std::uint64_t old;
        if (std::uint8_t* host = cpu.writable_pointer(address, S)) {
            // Inside guest RAM; misaligned atomics are fine on x86 hosts.
            auto* target = reinterpret_cast<Unsigned<S>*>(host);
            old = __atomic_exchange_n(target, static_cast<Unsigned<S>>(value), __ATOMIC_SEQ_CST);
            cpu.note_ram_write(host);
        } else {
            old = cpu.read<S>(address);
            cpu.write<S>(address, value);
        }
        write_operand<S>(cpu, op, register_index, old);
        return;
    }
    const std::uint64_t a = read_operand<S>(cpu, op, 0), b = read_operand<S>(cpu, op, 1);
    write_operand<S>(cpu, op, 0, b);
    write_operand<S>(cpu, op, 1, a);
}

template <unsigned S> void op_bswap(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t value = read_operand<S>(cpu, op, 0);
    if constexpr (S == 8)
        write_operand<8>(cpu, op, 0, __builtin_bswap64(value));
    else if constexpr (S == 4)
        write_operand<4>(cpu, op, 0, __builtin_bswap32(static_cast<std::uint32_t>(value)));
    else
        write_operand<S>(cpu, op, 0, 0); // bswap r16 is undefined; hardware gives zero
}

/// cbw/cwde/cdqe: sign-extend the lower half of the accumulator.
template <unsigned S> void op_sign_extend_accumulator(CpuCore& cpu, const DecodedOp&) {
    cpu.set_reg<S>(x86::rax, static_cast<std::uint64_t>(sign_extend(cpu.gpr[x86::rax], S / 2)));
}

/// cwd/cdq/cqo: fill rDX with the accumulator's sign.
template <unsigned S> void op_sign_fill_dx(CpuCore& cpu, const DecodedOp&) {
    const bool negative = cpu.gpr[x86::rax] & sign_bit(S);
    cpu.set_reg<S>(x86::rdx, negative ? ~std::uint64_t{0} : 0);
}

// ---- ALU ----

enum class Alu { Add, Or, Adc, Sbb, And, Sub, Xor, Cmp, Test };

template <unsigned S, Alu K>
std::uint64_t compute(CpuCore& cpu, std::uint64_t d, std::uint64_t s, bool carry_in) {
    std::uint64_t r = 0;
    switch (K) {
    case Alu::Add:
        r = d + s;
        cpu.set_lazy(FlagOp::Add, S, d, s, r);
        break;
    case Alu::Adc:
        r = d + s + carry_in;
        cpu.set_lazy(FlagOp::Adc, S, d, s, r);
        cpu.lazy.carry_in = carry_in;
        break;
    case Alu::Sub:
    case Alu::Cmp:
        r = d - s;
        cpu.set_lazy(FlagOp::Sub, S, d, s, r);
        break;
    case Alu::Sbb:
        r = d - s - carry_in;
        cpu.set_lazy(FlagOp::Sbb, S, d, s, r);
        cpu.lazy.carry_in = carry_in;
        break;
    case Alu::And:
    case Alu::Test:
        r = d & s;
        cpu.set_lazy(FlagOp::Logic, S, 0, 0, r);
        break;
    case Alu::Or:
        r = d | s;
        cpu.set_lazy(FlagOp::Logic, S, 0, 0, r);
        break;
    case Alu::Xor:
        r = d ^ s;
        cpu.set_lazy(FlagOp::Logic, S, 0, 0, r);
        break;
    }
    return r & size_mask(S);
}

template <unsigned S, Alu K> void op_alu(CpuCore& cpu, const DecodedOp& op) {
    const bool carry_in = (K == Alu::Adc || K == Alu::Sbb) ? cpu.carry() : false;
    if constexpr (K == Alu::Cmp || K == Alu::Test) {
        compute<S, K>(cpu, read_operand<S>(cpu, op, 0), read_operand<S>(cpu, op, 1), carry_in);
    } else {
        if (op.operands[0].kind == OperandKind::Gpr && op.operands[1].kind != OperandKind::Memory) {
            // Register destination fast path.
            const unsigned index = op.operands[0].index;
            const std::uint64_t s = op.operands[1].kind == OperandKind::Immediate
                                        ? op.immediate & size_mask(S)
                                        : read_operand<S>(cpu, op, 1);
            cpu.set_reg<S>(index, compute<S, K>(cpu, cpu.reg<S>(index), s, carry_in));
            return;
        }
        const std::uint64_t s = read_operand<S>(cpu, op, 1);
        read_modify_write<S>(cpu, op,
                             [&](std::uint64_t d) { return compute<S, K>(cpu, d, s, carry_in); });
    }
}

enum class Unary { Inc, Dec, Not, Neg };

template <unsigned S, Unary K> void op_unary(CpuCore& cpu, const DecodedOp& op) {
    const bool carry_in = cpu.carry();
    read_modify_write<S>(cpu, op, [&](std::uint64_t d) -> std::uint64_t {
        std::uint64_t r = 0;
        switch (K) {
        case Unary::Inc:
            r = d + 1;
            cpu.set_lazy(FlagOp::Inc, S, d, 1, r);
            cpu.lazy.carry_in = carry_in;
            break;
        case Unary::Dec:
            r = d - 1;
            cpu.set_lazy(FlagOp::Dec, S, d, 1, r);
            cpu.lazy.carry_in = carry_in;
            break;
        case Unary::Not:
            r = ~d;
            break;
        case Unary::Neg:
            r = 0 - d;
            cpu.set_lazy(FlagOp::Sub, S, 0, d, r);
            break;
        }
        return r & size_mask(S);
    });
}

template <unsigned S> void op_xadd(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t s = read_operand<S>(cpu, op, 1);
    if (op.operands[0].kind != OperandKind::Memory) {
        // The destination is written last, so xadd eax, eax leaves the sum (Intel SDM Vol. 2).
        const std::uint64_t d = read_operand<S>(cpu, op, 0);
        const std::uint64_t sum = compute<S, Alu::Add>(cpu, d, s, false);
        write_operand<S>(cpu, op, 1, d);
        write_operand<S>(cpu, op, 0, sum);
        return;
    }
    std::uint64_t old = 0;
    read_modify_write<S>(cpu, op, [&](std::uint64_t d) {
        old = d;
        return compute<S, Alu::Add>(cpu, d, s, false);
    });
    write_operand<S>(cpu, op, 1, old);
}

template <unsigned S> void op_cmpxchg(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t expected = cpu.reg<S>(x86::rax);
    const std::uint64_t replacement = read_operand<S>(cpu, op, 1);
    std::uint64_t old = 0;
    if (op.operands[0].kind == OperandKind::Memory) {
        const std::uint64_t address = cpu.linear_address(op);
        if (std::uint8_t* host = cpu.writable_pointer(address, S)) {
            // Inside guest RAM; the compare-exchange is atomic whether or not lock was given.
            auto* target = reinterpret_cast<Unsigned<S>*>(host);
            auto observed = static_cast<Unsigned<S>>(expected);
            __atomic_compare_exchange_n(target, &observed, static_cast<Unsigned<S>>(replacement),
                                        false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
            old = observed;
            cpu.note_ram_write(host);
        } else {
            old = cpu.read<S>(address);
            cpu.write<S>(address, old == expected ? replacement : old);
        }
    } else {
        old = read_operand<S>(cpu, op, 0);
        if (old == expected) write_operand<S>(cpu, op, 0, replacement);
    }
    compute<S, Alu::Cmp>(cpu, expected, old, false);
    if (old != expected) cpu.set_reg<S>(x86::rax, old);
}

/// cmpxchg8b (S = 4) / cmpxchg16b (S = 8): rDX:rAX against memory, rCX:rBX stored.
template <unsigned S> void op_cmpxchg_double(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t address = cpu.linear_address(op);
    if (S == 8 && (address & 15)) cpu.raise(x86::vector::general_protection, 0);
    const std::uint64_t expected_low = cpu.reg<S>(x86::rax), expected_high = cpu.reg<S>(x86::rdx);
    const std::uint64_t new_low = cpu.reg<S>(x86::rbx), new_high = cpu.reg<S>(x86::rcx);
    std::uint64_t old_low = 0, old_high = 0;
    bool equal = false;
    std::uint8_t* host = cpu.writable_pointer(address, 2 * S);
    if (host != nullptr && S == 4) {
        // Inside guest RAM; an 8-byte compare-exchange on the host is the same operation.
        auto* target = reinterpret_cast<std::uint64_t*>(host);
        std::uint64_t observed = expected_low | (expected_high << 32);
        equal = __atomic_compare_exchange_n(target, &observed, new_low | (new_high << 32), false,
                                            __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        old_low = observed & 0xffff'ffff;
        old_high = observed >> 32;
        cpu.note_ram_write(host);
    } else if (host != nullptr) {
        // 16-byte aligned inside guest RAM (checked above): host cmpxchg16b.
        std::uint64_t rax = expected_low, rdx = expected_high;
        asm volatile("lock cmpxchg16b %[target]\n\tsete %[equal]"
                     : [target] "+m"(*reinterpret_cast<unsigned __int128*>(host)), "+a"(rax),
                       "+d"(rdx), [equal] "=q"(equal)
                     : "b"(new_low), "c"(new_high)
                     : "memory", "cc");
        old_low = rax;
        old_high = rdx;
        cpu.note_ram_write(host);
    } else {
        old_low = cpu.read<S>(address);
        old_high = cpu.read<S>(address + S);
        equal = old_low == expected_low && old_high == expected_high;
        cpu.write<S>(address, equal ? new_low : old_low);
        cpu.write<S>(address + S, equal ? new_high : old_high);
    }
    std::uint64_t flags = cpu.flags() & ~zf;
    if (equal) flags |= zf;
    cpu.set_flags(flags);
    if (!equal) {
        cpu.set_reg<S>(x86::rax, old_low);
        cpu.set_reg<S>(x86::rdx, old_high);
    }
}

// ---- shifts and rotates ----

enum class Shift { Rol, Ror, Rcl, Rcr, Shl, Shr, Sar };

/// A shift by a masked count of 0 changes nothing, but hardware still writes a register
/// destination: a 32-bit one gets its upper half cleared (memory is only read).
template <unsigned S> void write_back_unchanged(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t value = read_operand<S>(cpu, op, 0);
    if (S == 4 && op.operands[0].kind == OperandKind::Gpr) write_operand<S>(cpu, op, 0, value);
}

template <unsigned S, Shift K> void op_shift(CpuCore& cpu, const DecodedOp& op) {
    constexpr unsigned bits = 8 * S;
    unsigned count = static_cast<unsigned>(read_operand<1>(cpu, op, 1)) & (S == 8 ? 63 : 31);
    if (op.operands[1].kind == OperandKind::None) count = 1;
    if (count == 0) {
        // Still a memory access (and possible fault) but no change, except that a 32-bit
        // register destination is written back, which clears its upper half as on hardware.
        write_back_unchanged<S>(cpu, op);
        return;
    }
    constexpr bool sets_all = K == Shift::Shl || K == Shift::Shr || K == Shift::Sar;
    // Shifts replace all arithmetic flags (lazily); rotates keep all but CF and OF.
    const std::uint64_t old_flags = sets_all ? 0 : cpu.flags();
    std::uint64_t new_flags = old_flags, result = 0;
    bool carry_out = false, overflow_out = false;
    read_modify_write<S>(cpu, op, [&](std::uint64_t d) -> std::uint64_t {
        std::uint64_t r = 0;
        bool carry = false, overflow = false;
        const std::uint64_t msb = sign_bit(S);
        switch (K) {
        case Shift::Shl:
            r = (count >= 64 ? 0 : d << count) & size_mask(S);
            carry = ((d << (count - 1)) >> (bits - 1)) & 1;
            overflow = ((r & msb) != 0) != carry;
            break;
        case Shift::Shr:
            r = count >= 64 ? 0 : d >> count;
            carry = (d >> (count - 1)) & 1;
            overflow = (d & msb) != 0;
            break;
        case Shift::Sar: {
            const std::int64_t sd = sign_extend(d, S);
            r = static_cast<std::uint64_t>(sd >> (count > 63 ? 63 : count)) & size_mask(S);
            carry = (sd >> (count - 1 > 63 ? 63 : count - 1)) & 1;
            overflow = false;
            break;
        }
        case Shift::Rol: {
            const unsigned c = count % bits;
            r = c == 0 ? d : ((d << c) | (d >> (bits - c))) & size_mask(S);
            carry = r & 1;
            overflow = ((r & msb) != 0) != carry;
            break;
        }
        case Shift::Ror: {
            const unsigned c = count % bits;
            r = c == 0 ? d : ((d >> c) | (d << (bits - c))) & size_mask(S);
            carry = (r & msb) != 0;
            overflow = ((r ^ (r << 1)) & msb) != 0;
            break;
        }
        case Shift::Rcl:
        case Shift::Rcr: {
            const unsigned c = count % (bits + 1);
            carry = old_flags & cf;
            r = d;
            for (unsigned i = 0; i < c; ++i) {
                if (K == Shift::Rcl) {
                    const bool out = (r & msb) != 0;
                    r = ((r << 1) | (carry ? 1 : 0)) & size_mask(S);
                    carry = out;
                } else {
                    const bool out = r & 1;
                    r = (r >> 1) | (carry ? msb : 0);
                    carry = out;
                }
            }
            overflow =
                K == Shift::Rcl ? (((r & msb) != 0) != carry) : (((r ^ (r << 1)) & msb) != 0);
            break;
        }
        }
        result = r;
        carry_out = carry;
        overflow_out = overflow;
        new_flags = (old_flags & ~(cf | of)) | (carry ? cf : 0) | (overflow ? of : 0);
        return r;
    });
    if constexpr (sets_all)
        cpu.set_explicit_flags(S, result, carry_out, overflow_out);
    else
        cpu.set_flags(new_flags);
}

/// shld/shrd dst, src, count.
template <unsigned S, bool Left> void op_double_shift(CpuCore& cpu, const DecodedOp& op) {
    constexpr unsigned bits = 8 * S;
    const unsigned count = static_cast<unsigned>(read_operand<1>(cpu, op, 2)) & (S == 8 ? 63 : 31);
    if (count == 0) {
        write_back_unchanged<S>(cpu, op);
        return;
    }
    const std::uint64_t s = read_operand<S>(cpu, op, 1);
    std::uint64_t new_flags = cpu.flags();
    read_modify_write<S>(cpu, op, [&](std::uint64_t d) -> std::uint64_t {
        unsigned __int128 value, shifted;
        std::uint64_t r;
        bool carry;
        if (Left) {
            value = (static_cast<unsigned __int128>(d) << bits) | s;
            shifted = value << count;
            r = static_cast<std::uint64_t>(shifted >> bits) & size_mask(S);
            carry = (value >> (2 * bits - count)) & 1;
        } else {
            value = (static_cast<unsigned __int128>(s) << bits) | d;
            shifted = value >> count;
            r = static_cast<std::uint64_t>(shifted) & size_mask(S);
            carry = (value >> (count - 1)) & 1;
        }
        const bool overflow = ((r ^ d) & sign_bit(S)) != 0;
        new_flags = (new_flags & ~arithmetic_flags) | result_flags(r, S) | (carry ? cf : 0) |
                    (overflow ? of : 0);
        return r;
    });
    cpu.set_flags(new_flags);
}

// ---- multiply and divide ----

template <unsigned S, bool Signed> void op_multiply_accumulator(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t s = read_operand<S>(cpu, op, 0);
    const std::uint64_t a = cpu.reg<S>(x86::rax);
    std::uint64_t low, high;
    bool overflow;
    if (Signed) {
        const __int128 product = static_cast<__int128>(sign_extend(a, S)) * sign_extend(s, S);
        low = static_cast<std::uint64_t>(product) & size_mask(S);
        high = static_cast<std::uint64_t>(product >> (8 * S)) & size_mask(S);
        overflow = product != static_cast<__int128>(sign_extend(low, S));
    } else {
        const unsigned __int128 product = static_cast<unsigned __int128>(a) * s;
        low = static_cast<std::uint64_t>(product) & size_mask(S);
        high = static_cast<std::uint64_t>(product >> (8 * S)) & size_mask(S);
        overflow = high != 0;
    }
    if (S == 1) {
        cpu.set_reg<2>(x86::rax, low | (high << 8));
    } else {
        cpu.set_reg<S>(x86::rax, low);
        cpu.set_reg<S>(x86::rdx, high);
    }
    cpu.set_explicit_flags(S, low, overflow, overflow);
}

/// imul r, r/m and imul r, r/m, imm.
template <unsigned S> void op_imul_truncating(CpuCore& cpu, const DecodedOp& op) {
    const bool three = op.operands[2].kind != OperandKind::None;
    const std::int64_t a = sign_extend(read_operand<S>(cpu, op, three ? 1 : 0), S);
    const std::int64_t b = sign_extend(three ? op.immediate : read_operand<S>(cpu, op, 1), S);
    const __int128 product = static_cast<__int128>(a) * b;
    const std::uint64_t low = static_cast<std::uint64_t>(product) & size_mask(S);
    const bool overflow = product != static_cast<__int128>(sign_extend(low, S));
    write_operand<S>(cpu, op, 0, low);
    cpu.set_explicit_flags(S, low, overflow, overflow);
}

template <unsigned S, bool Signed> void op_divide(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t divisor = read_operand<S>(cpu, op, 0);
    if (divisor == 0) cpu.raise(x86::vector::divide_error);
    const std::uint64_t low = S == 1 ? cpu.reg<1>(x86::rax) : cpu.reg<S>(x86::rax);
    const std::uint64_t high = S == 1 ? (cpu.gpr[x86::rax] >> 8) & 0xff : cpu.reg<S>(x86::rdx);
    std::uint64_t quotient, remainder;
    if (Signed) {
        const __int128 dividend =
            static_cast<__int128>((static_cast<unsigned __int128>(high) << (8 * S)) | low)
                << (128 - 16 * S) >>
            (128 - 16 * S);
        const __int128 d = sign_extend(divisor, S);
        if (d == -1 && dividend == -(static_cast<__int128>(1) << (16 * S - 1)))
            cpu.raise(x86::vector::divide_error); // would overflow the host division too
        const __int128 q = dividend / d, r = dividend % d;
        if (q > static_cast<__int128>(size_mask(S) >> 1) || q < -static_cast<__int128>(sign_bit(S)))
            cpu.raise(x86::vector::divide_error);
        quotient = static_cast<std::uint64_t>(q) & size_mask(S);
        remainder = static_cast<std::uint64_t>(r) & size_mask(S);
    } else {
        const unsigned __int128 dividend = (static_cast<unsigned __int128>(high) << (8 * S)) | low;
        const unsigned __int128 q = dividend / divisor;
        if (q > size_mask(S)) cpu.raise(x86::vector::divide_error);
        quotient = static_cast<std::uint64_t>(q);
        remainder = static_cast<std::uint64_t>(dividend % divisor);
    }
    if (S == 1) {
        cpu.set_reg<2>(x86::rax, quotient | (remainder << 8));
    } else {
        cpu.set_reg<S>(x86::rax, quotient);
        cpu.set_reg<S>(x86::rdx, remainder);
    }
}

// ---- bit operations ----

enum class BitOp { Test, Set, Reset, Complement };

template <unsigned S, BitOp K> void op_bit(CpuCore& cpu, const DecodedOp& op) {
    constexpr unsigned bits = 8 * S;
    const bool register_offset = op.operands[1].kind != OperandKind::Immediate;
    std::uint64_t offset = read_operand<S>(cpu, op, 1);
    bool was_set = false;
    auto apply = [&](std::uint64_t d, unsigned bit) -> std::uint64_t {
        was_set = (d >> bit) & 1;
        switch (K) {
        case BitOp::Set:
            return d | (std::uint64_t{1} << bit);
        case BitOp::Reset:
            return d & ~(std::uint64_t{1} << bit);
        case BitOp::Complement:
            return d ^ (std::uint64_t{1} << bit);
        default:
            return d;
        }
    };
    if (op.operands[0].kind == OperandKind::Memory && register_offset) {
        // The register bit offset is signed and may reach outside the operand.
        const std::int64_t signed_offset = sign_extend(offset, S);
        const std::int64_t element = signed_offset >> (S == 8 ? 6 : S == 4 ? 5 : S == 2 ? 4 : 3);
        const unsigned bit = static_cast<unsigned>(offset & (bits - 1));
        DecodedOp shifted = op;
        shifted.memory.displacement += element * static_cast<std::int64_t>(S);
        if (K == BitOp::Test)
            apply(cpu.read<S>(cpu.linear_address(shifted)), bit);
        else
            read_modify_write<S>(cpu, shifted, [&](std::uint64_t d) { return apply(d, bit); });
    } else {
        const unsigned bit = static_cast<unsigned>(offset & (bits - 1));
        if (K == BitOp::Test)
            apply(read_operand<S>(cpu, op, 0), bit);
        else
            read_modify_write<S>(cpu, op, [&](std::uint64_t d) { return apply(d, bit); });
    }
    std::uint64_t flags = cpu.flags() & ~cf;
    cpu.set_flags(flags | (was_set ? cf : 0));
}

template <unsigned S, bool Reverse> void op_bit_scan(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t value = read_operand<S>(cpu, op, 1);
    std::uint64_t flags = cpu.flags() & ~arithmetic_flags;
    if (value == 0) {
        cpu.set_flags(flags | zf);
        return;
    }
    const unsigned index = Reverse ? 63 - static_cast<unsigned>(__builtin_clzll(value))
                                   : static_cast<unsigned>(__builtin_ctzll(value));
    write_operand<S>(cpu, op, 0, index);
    cpu.set_flags(flags);
}

// ---- flags ----

void op_clc(CpuCore& cpu, const DecodedOp&) {
    cpu.set_flags(cpu.flags() & ~cf);
}
void op_stc(CpuCore& cpu, const DecodedOp&) {
    cpu.set_flags(cpu.flags() | cf);
}
void op_cmc(CpuCore& cpu, const DecodedOp&) {
    cpu.set_flags(cpu.flags() ^ cf);
}
void op_cld(CpuCore& cpu, const DecodedOp&) {
    cpu.rflags &= ~x86::rflags::df;
}
void op_std(CpuCore& cpu, const DecodedOp&) {
    cpu.rflags |= x86::rflags::df;
}
void op_lahf(CpuCore& cpu, const DecodedOp&) {
    cpu.gpr[x86::rax] =
        (cpu.gpr[x86::rax] & ~std::uint64_t{0xff00}) | (((cpu.flags() & 0xd5) | 2) << 8);
}
void op_sahf(CpuCore& cpu, const DecodedOp&) {
    const std::uint64_t ah = (cpu.gpr[x86::rax] >> 8) & 0xd5;
    cpu.set_flags((cpu.flags() & ~std::uint64_t{0xd5}) | ah);
}
void op_nop(CpuCore&, const DecodedOp&) {}

/// xlat: al = [seg:rBX + al].
void op_xlat(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t offset =
        (cpu.gpr[x86::rbx] + (cpu.gpr[x86::rax] & 0xff)) & size_mask(op.memory.address_size);
    cpu.set_reg<1>(x86::rax, cpu.read<1>(cpu.linear(op.memory.segment, offset)));
}

} // namespace

OpHandler select_integer_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    const unsigned size = op.operand_size;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
        if (op.operands[0].kind == OperandKind::Segment ||
            op.operands[1].kind == OperandKind::Segment ||
            op.operands[0].kind == OperandKind::Control ||
            op.operands[1].kind == OperandKind::Control ||
            op.operands[0].kind == OperandKind::Debug || op.operands[1].kind == OperandKind::Debug)
            return nullptr; // system moves
        return BY_SIZE(size, op_mov);
    case ZYDIS_MNEMONIC_MOVZX:
        return BY_SIZE(size, op_move_extend, false);
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
        return BY_SIZE(size, op_move_extend, true);
    case ZYDIS_MNEMONIC_LEA:
        return BY_SIZE(size, op_lea);
    case ZYDIS_MNEMONIC_CMOVO:
    case ZYDIS_MNEMONIC_CMOVNO:
    case ZYDIS_MNEMONIC_CMOVB:
    case ZYDIS_MNEMONIC_CMOVNB:
    case ZYDIS_MNEMONIC_CMOVZ:
    case ZYDIS_MNEMONIC_CMOVNZ:
    case ZYDIS_MNEMONIC_CMOVBE:
    case ZYDIS_MNEMONIC_CMOVNBE:
    case ZYDIS_MNEMONIC_CMOVS:
    case ZYDIS_MNEMONIC_CMOVNS:
    case ZYDIS_MNEMONIC_CMOVP:
    case ZYDIS_MNEMONIC_CMOVNP:
    case ZYDIS_MNEMONIC_CMOVL:
    case ZYDIS_MNEMONIC_CMOVNL:
    case ZYDIS_MNEMONIC_CMOVLE:
    case ZYDIS_MNEMONIC_CMOVNLE:
        return BY_SIZE(size, op_cmov);
    case ZYDIS_MNEMONIC_SETO:
    case ZYDIS_MNEMONIC_SETNO:
    case ZYDIS_MNEMONIC_SETB:
    case ZYDIS_MNEMONIC_SETNB:
    case ZYDIS_MNEMONIC_SETZ:
    case ZYDIS_MNEMONIC_SETNZ:
    case ZYDIS_MNEMONIC_SETBE:
    case ZYDIS_MNEMONIC_SETNBE:
    case ZYDIS_MNEMONIC_SETS:
    case ZYDIS_MNEMONIC_SETNS:
    case ZYDIS_MNEMONIC_SETP:
    case ZYDIS_MNEMONIC_SETNP:
    case ZYDIS_MNEMONIC_SETL:
    case ZYDIS_MNEMONIC_SETNL:
    case ZYDIS_MNEMONIC_SETLE:
    case ZYDIS_MNEMONIC_SETNLE:
        return &op_setcc<1>;
    case ZYDIS_MNEMONIC_XCHG:
        return BY_SIZE(size, op_xchg);
    case ZYDIS_MNEMONIC_BSWAP:
        return BY_SIZE(size, op_bswap);
    case ZYDIS_MNEMONIC_CBW:
    case ZYDIS_MNEMONIC_CWDE:
    case ZYDIS_MNEMONIC_CDQE:
        return BY_SIZE(size, op_sign_extend_accumulator);
    case ZYDIS_MNEMONIC_CWD:
    case ZYDIS_MNEMONIC_CDQ:
    case ZYDIS_MNEMONIC_CQO:
        return BY_SIZE(size, op_sign_fill_dx);
    case ZYDIS_MNEMONIC_ADD:
        return BY_SIZE(size, op_alu, Alu::Add);
    case ZYDIS_MNEMONIC_OR:
        return BY_SIZE(size, op_alu, Alu::Or);
    case ZYDIS_MNEMONIC_ADC:
        return BY_SIZE(size, op_alu, Alu::Adc);
    case ZYDIS_MNEMONIC_SBB:
        return BY_SIZE(size, op_alu, Alu::Sbb);
    case ZYDIS_MNEMONIC_AND:
        return BY_SIZE(size, op_alu, Alu::And);
    case ZYDIS_MNEMONIC_SUB:
        return BY_SIZE(size, op_alu, Alu::Sub);
    case ZYDIS_MNEMONIC_XOR:
        return BY_SIZE(size, op_alu, Alu::Xor);
    case ZYDIS_MNEMONIC_CMP:
        return BY_SIZE(size, op_alu, Alu::Cmp);
    case ZYDIS_MNEMONIC_TEST:
        return BY_SIZE(size, op_alu, Alu::Test);
    case ZYDIS_MNEMONIC_INC:
        return BY_SIZE(size, op_unary, Unary::Inc);
    case ZYDIS_MNEMONIC_DEC:
        return BY_SIZE(size, op_unary, Unary::Dec);
    case ZYDIS_MNEMONIC_NOT:
        return BY_SIZE(size, op_unary, Unary::Not);
    case ZYDIS_MNEMONIC_NEG:
        return BY_SIZE(size, op_unary, Unary::Neg);
    case ZYDIS_MNEMONIC_XADD:
        return BY_SIZE(size, op_xadd);
    case ZYDIS_MNEMONIC_CMPXCHG:
        return BY_SIZE(size, op_cmpxchg);
    case ZYDIS_MNEMONIC_CMPXCHG8B:
        return &op_cmpxchg_double<4>;
    case ZYDIS_MNEMONIC_CMPXCHG16B:
        return &op_cmpxchg_double<8>;
    case ZYDIS_MNEMONIC_ROL:
        return BY_SIZE(size, op_shift, Shift::Rol);
    case ZYDIS_MNEMONIC_ROR:
        return BY_SIZE(size, op_shift, Shift::Ror);
    case ZYDIS_MNEMONIC_RCL:
        return BY_SIZE(size, op_shift, Shift::Rcl);
    case ZYDIS_MNEMONIC_RCR:
        return BY_SIZE(size, op_shift, Shift::Rcr);
    case ZYDIS_MNEMONIC_SHL:
        return BY_SIZE(size, op_shift, Shift::Shl);
    case ZYDIS_MNEMONIC_SHR:
        return BY_SIZE(size, op_shift, Shift::Shr);
    case ZYDIS_MNEMONIC_SAR:
        return BY_SIZE(size, op_shift, Shift::Sar);
    case ZYDIS_MNEMONIC_SHLD:
        return BY_SIZE(size, op_double_shift, true);
    case ZYDIS_MNEMONIC_SHRD:
        return BY_SIZE(size, op_double_shift, false);
    case ZYDIS_MNEMONIC_MUL:
        return BY_SIZE(size, op_multiply_accumulator, false);
    case ZYDIS_MNEMONIC_IMUL:
        if (op.operands[1].kind == OperandKind::None)
            return BY_SIZE(size, op_multiply_accumulator, true);
        return BY_SIZE(size, op_imul_truncating);
    case ZYDIS_MNEMONIC_DIV:
        return BY_SIZE(size, op_divide, false);
    case ZYDIS_MNEMONIC_IDIV:
        return BY_SIZE(size, op_divide, true);
    case ZYDIS_MNEMONIC_BT:
        return BY_SIZE(size, op_bit, BitOp::Test);
    case ZYDIS_MNEMONIC_BTS:
        return BY_SIZE(size, op_bit, BitOp::Set);
    case ZYDIS_MNEMONIC_BTR:
        return BY_SIZE(size, op_bit, BitOp::Reset);
    case ZYDIS_MNEMONIC_BTC:
        return BY_SIZE(size, op_bit, BitOp::Complement);
    // tzcnt/lzcnt (bsf/bsr on a model without them): ops_bit_manipulation.cpp.
    case ZYDIS_MNEMONIC_BSF:
        return BY_SIZE(size, op_bit_scan, false);
    case ZYDIS_MNEMONIC_BSR:
        return BY_SIZE(size, op_bit_scan, true);
    case ZYDIS_MNEMONIC_CLC:
        return &op_clc;
    case ZYDIS_MNEMONIC_STC:
        return &op_stc;
    case ZYDIS_MNEMONIC_CMC:
        return &op_cmc;
    case ZYDIS_MNEMONIC_CLD:
        return &op_cld;
    case ZYDIS_MNEMONIC_STD:
        return &op_std;
    case ZYDIS_MNEMONIC_LAHF:
        return &op_lahf;
    case ZYDIS_MNEMONIC_SAHF:
        return &op_sahf;
    case ZYDIS_MNEMONIC_XLAT:
        return &op_xlat;
    case ZYDIS_MNEMONIC_NOP:
    case ZYDIS_MNEMONIC_PAUSE:
    case ZYDIS_MNEMONIC_ENDBR32:
    case ZYDIS_MNEMONIC_ENDBR64:
    case ZYDIS_MNEMONIC_PREFETCH:
    case ZYDIS_MNEMONIC_PREFETCHW:
    case ZYDIS_MNEMONIC_PREFETCHT0:
    case ZYDIS_MNEMONIC_PREFETCHT1:
    case ZYDIS_MNEMONIC_PREFETCHT2:
    case ZYDIS_MNEMONIC_PREFETCHNTA:
    case ZYDIS_MNEMONIC_LFENCE:
    case ZYDIS_MNEMONIC_SFENCE:
        return &op_nop;
    case ZYDIS_MNEMONIC_MFENCE:
        return &op_nop;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
