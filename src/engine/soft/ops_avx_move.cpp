// AVX data movement and the VEX instructions outside the vector-to-vector kernels: moves, loads
// and stores of parts of a register, 128-bit broadcasts, masked moves, inserts and extracts,
// movmsk, vptest/vtest, vzeroupper/vzeroall, conversions to and from GPRs, vcomis, vldmxcsr.
#include <cstring>

#include "engine/soft/avx_kernels.hpp"
#include "engine/soft/handlers.hpp"

#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,f16c")

namespace vessel::soft {

namespace {

using avx::destination_bytes;

/// MXCSR bits a guest may set (Intel SDM Vol. 1, 10.2.3): anything else is #GP(0).
constexpr std::uint32_t mxcsr_writable = 0xffff;

/// Bytes the instruction's vector length covers (16 or 32).
unsigned length(const DecodedOp& op) {
    return op.operand_size == 32 ? 32 : 16;
}

/// vmovdqu/a, vmovups/aps/upd/apd, vlddqu, vmovnt*, and the load and store forms of vmovss,
/// vmovsd, vmovd, vmovq. `Aligned`: #GP unless the memory operand is aligned to the length.
template <std::uint32_t F128, std::uint32_t F256, bool Aligned>
void op_move(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, length(op) == 32 ? F256 : F128);
    const unsigned alignment = Aligned ? length(op) : 1;
    const Vec value = read_vector(cpu, op, 1, alignment);
    write_vector(cpu, op, 0, value, destination_bytes(op), alignment);
}

/// vmovd/vmovq: only the low 4 or 8 bytes move; the rest of an xmm destination is zeroed.
template <unsigned Bytes> void op_move_low(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    Vec value = read_vector(cpu, op, 1);
    if constexpr (Bytes == 4) value.q[0] &= 0xffff'ffff;
    value.q[1] = value.q[2] = value.q[3] = 0;
    write_vector(cpu, op, 0, value, 16);
}

/// vmovlps/vmovlpd/vmovhps/vmovhpd: the load form (xmm1, xmm2, m64) puts m64 in quadword
/// `Half` of xmm2's copy; the store form (m64, xmm) writes quadword `Half`.
template <unsigned Half> void op_move_half(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    if (op.operands[0].kind == OperandKind::Memory) {
        const Vec source = read_vector(cpu, op, 1);
        cpu.write<8>(cpu.linear_address(op), source.q[Half]);
        return;
    }
    Vec value = read_vector(cpu, op, 1);
    value.q[Half] = read_vector(cpu, op, 2).q[0];
    value.q[2] = value.q[3] = 0;
    write_vector(cpu, op, 0, value, 16);
}

/// vmovhlps (High: dest = [src2.high, src1.high]) and vmovlhps (dest = [src1.low, src2.low]).
template <bool High> void op_move_halves(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    const Vec a = read_vector(cpu, op, 1), b = read_vector(cpu, op, 2);
    Vec value;
    value.q[0] = High ? b.q[1] : a.q[0];
    value.q[1] = High ? a.q[1] : b.q[0];
    write_vector(cpu, op, 0, value, 16);
}

/// vbroadcasti128 / vbroadcastf128: m128 into both halves.
template <std::uint32_t F> void op_broadcast_128(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, F);
    Vec value = read_vector(cpu, op, 1);
    value.q[2] = value.q[0];
    value.q[3] = value.q[1];
    write_vector(cpu, op, 0, value, 32);
}

/// vpmaskmovd/q, vmaskmovps/pd: elements of `E` bytes move where the mask element's sign bit is
/// set; masked-off elements are neither read nor written (no fault for them) and load as 0.
template <std::uint32_t F, unsigned E> void op_masked_move(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, F);
    const unsigned count = length(op) / E;
    const Vec mask = read_ymm(cpu, op.operands[1].index);
    const std::uint64_t address = cpu.linear_address(op);
    const auto selected = [&](unsigned i) {
        return E == 4 ? (mask.get<std::uint32_t>(i) >> 31) != 0
                      : (mask.get<std::uint64_t>(i) >> 63) != 0;
    };
    if (op.operands[0].kind == OperandKind::Memory) {
        const Vec source = read_ymm(cpu, op.operands[2].index);
        for (unsigned i = 0; i < count; ++i) // check every selected element before any store
            if (selected(i)) cpu.translate(address + i * E + E - 1, access_write, cpu.cpl == 3);
        for (unsigned i = 0; i < count; ++i)
            if (selected(i))
                cpu.write_sized(address + i * E, E,
                                E == 4 ? source.get<std::uint32_t>(i)
                                       : source.get<std::uint64_t>(i));
        return;
    }
    Vec value;
    for (unsigned i = 0; i < count; ++i)
        if (selected(i)) {
            if constexpr (E == 4)
                value.set<std::uint32_t>(i,
                                         static_cast<std::uint32_t>(cpu.read<4>(address + 4 * i)));
            else
                value.set<std::uint64_t>(i, cpu.read<8>(address + 8 * i));
        }
    write_vector(cpu, op, 0, value, length(op));
}

/// vpmovmskb (E = 1), vmovmskps (4), vmovmskpd (8): the sign bit of each element into a GPR.
template <unsigned E> void op_move_mask(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, E == 1 && length(op) == 32 ? isa::avx2 : isa::avx);
    const Vec value = read_vector(cpu, op, 1);
    std::uint64_t bits = 0;
    for (unsigned i = 0; i < length(op) / E; ++i)
        bits |= static_cast<std::uint64_t>(value.get<std::uint8_t>(i * E + E - 1) >> 7) << i;
    cpu.set_reg_sized(op.operands[0].size, op.operands[0].index, bits);
}

/// vptest (E = 1: every bit) and vtestps/vtestpd (E = 4/8: the sign bits): ZF when src1 AND src2
/// is zero, CF when NOT src1 AND src2 is zero; AF OF PF SF cleared.
template <unsigned E> void op_test(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    const Vec a = read_vector(cpu, op, 0), b = read_vector(cpu, op, 1);
    std::uint64_t sign_mask = ~std::uint64_t{0};
    if constexpr (E == 4) sign_mask = 0x8000'0000'8000'0000;
    if constexpr (E == 8) sign_mask = 0x8000'0000'0000'0000;
    bool zero = true, carry = true;
    for (unsigned i = 0; i < length(op) / 8; ++i) {
        zero = zero && (a.q[i] & b.q[i] & sign_mask) == 0;
        carry = carry && (~a.q[i] & b.q[i] & sign_mask) == 0;
    }
    std::uint64_t flags = cpu.flags() & ~arithmetic_flags;
    if (zero) flags |= x86::rflags::zf;
    if (carry) flags |= x86::rflags::cf;
    cpu.set_flags(flags);
}

/// vzeroupper (All = false) and vzeroall: registers 0-15 in 64-bit mode, 0-7 elsewhere.
template <bool All> void op_zero_registers(CpuCore& cpu, const DecodedOp&) {
    check_avx_state(cpu, isa::avx);
    const unsigned count = cpu.mode == CpuMode::Long64 ? 16 : 8;
    for (unsigned i = 0; i < count; ++i) {
        cpu.fpu.ymm_upper[i] = Xmm{};
        if (All) cpu.fpu.xmm[i] = Xmm{};
    }
}

/// vpinsrb/w/d/q and vinsertps's integer cousins: xmm1 = xmm2 with lane imm (mod lanes) = r/m.
template <typename E> void op_insert(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    Vec value = read_vector(cpu, op, 1);
    const Vec source = read_vector(cpu, op, 2);
    value.set<E>(op.immediate % (16 / sizeof(E)), source.get<E>(0));
    value.q[2] = value.q[3] = 0;
    write_vector(cpu, op, 0, value, 16);
}

/// vpextrb/w/d/q and vextractps: lane imm (mod lanes) into a GPR (zero-extended) or memory.
template <typename E> void op_extract(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    const Vec source = read_vector(cpu, op, 1);
    Vec value;
    value.set<E>(0, source.get<E>(op.immediate % (16 / sizeof(E))));
    if (op.operands[0].kind == OperandKind::Gpr) {
        cpu.set_reg_sized(op.operands[0].size, op.operands[0].index, value.q[0]);
        return;
    }
    write_vector(cpu, op, 0, value, 16);
}

/// vcvtsi2ss/vcvtsi2sd xmm1, xmm2, r/m32|64: the integer rounded per MXCSR into the low element
/// of xmm2's copy. The width is a template parameter: only one host conversion runs.
template <typename F, bool Wide> void op_convert_from_integer(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    const __m256i target = avx::load(read_vector(cpu, op, 1));
    std::uint64_t integer = read_vector(cpu, op, 2).q[0];
    const __m256i result = avx::under_guest_mxcsr(cpu, [&] {
        using namespace sse_host;
        pin(integer);
        const __m128 low_float = _mm_castsi128_ps(_mm256_castsi256_si128(target));
        const __m128d low_double = _mm_castsi128_pd(_mm256_castsi256_si128(target));
        __m128i low;
        if constexpr (sizeof(F) == 4 && Wide)
            low = as_bits(_mm_cvtsi64_ss(low_float, static_cast<long long>(integer)));
        else if constexpr (sizeof(F) == 4)
            low = as_bits(_mm_cvtsi32_ss(low_float, static_cast<int>(integer)));
        else if constexpr (Wide)
            low = as_bits(_mm_cvtsi64_sd(low_double, static_cast<long long>(integer)));
        else
            low = as_bits(_mm_cvtsi32_sd(low_double, static_cast<int>(integer)));
        return _mm256_castsi128_si256(low);
    });
    write_vector(cpu, op, 0, avx::store(result), 16);
}

/// vcvt(t)ss2si / vcvt(t)sd2si r32|64, xmm/m: the low element to an integer, truncated or rounded
/// per MXCSR (the integer indefinite value on overflow, as the host's instruction gives).
template <typename F, bool Wide, bool Truncate>
void op_convert_to_integer(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    const __m256i source = avx::load(read_vector(cpu, op, 1));
    const std::uint64_t value = avx::under_guest_mxcsr(cpu, [&] {
        const __m128 f = _mm_castsi128_ps(_mm256_castsi256_si128(source));
        const __m128d d = _mm_castsi128_pd(_mm256_castsi256_si128(source));
        std::uint64_t result;
        if constexpr (sizeof(F) == 4 && Wide)
            result = static_cast<std::uint64_t>(Truncate ? _mm_cvttss_si64(f) : _mm_cvtss_si64(f));
        else if constexpr (sizeof(F) == 4)
            result = static_cast<std::uint32_t>(Truncate ? _mm_cvttss_si32(f) : _mm_cvtss_si32(f));
        else if constexpr (Wide)
            result = static_cast<std::uint64_t>(Truncate ? _mm_cvttsd_si64(d) : _mm_cvtsd_si64(d));
        else
            result = static_cast<std::uint32_t>(Truncate ? _mm_cvttsd_si32(d) : _mm_cvtsd_si32(d));
        sse_host::pin(result);
        return result;
    });
    cpu.set_reg_sized(Wide ? 8 : 4, op.operands[0].index, value);
}

/// vcomiss/vcomisd (Signaling) and vucomiss/vucomisd: ZF/PF/CF from the host's compare.
template <typename F, bool Signaling> void op_compare_flags(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    const __m128i x = _mm256_castsi256_si128(avx::load(read_vector(cpu, op, 0)));
    const __m128i y = _mm256_castsi256_si128(avx::load(read_vector(cpu, op, 1)));
    const std::uint8_t outcome = avx::under_guest_mxcsr(cpu, [&] {
        std::uint8_t zero, parity, carry;
        if constexpr (sizeof(F) == 4 && Signaling)
            asm volatile("vcomiss %3, %4; setz %0; setp %1; setc %2"
                         : "=q"(zero), "=q"(parity), "=q"(carry)
                         : "x"(y), "x"(x)
                         : "cc");
        else if constexpr (sizeof(F) == 4)
            asm volatile("vucomiss %3, %4; setz %0; setp %1; setc %2"
                         : "=q"(zero), "=q"(parity), "=q"(carry)
                         : "x"(y), "x"(x)
                         : "cc");
        else if constexpr (Signaling)
            asm volatile("vcomisd %3, %4; setz %0; setp %1; setc %2"
                         : "=q"(zero), "=q"(parity), "=q"(carry)
                         : "x"(y), "x"(x)
                         : "cc");
        else
            asm volatile("vucomisd %3, %4; setz %0; setp %1; setc %2"
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

void op_load_mxcsr(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    const auto value = static_cast<std::uint32_t>(cpu.read<4>(cpu.linear_address(op)));
    if (value & ~mxcsr_writable) cpu.raise(x86::vector::general_protection, 0);
    cpu.fpu.mxcsr = value;
}

void op_store_mxcsr(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    cpu.write<4>(cpu.linear_address(op), cpu.fpu.mxcsr);
}

bool wide_gpr(const Operand& operand) {
    return operand.size == 8;
}

} // namespace

OpHandler select_avx_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    // The handlers read the vector length (VEX.L) from the operand size.
    op.operand_size = instruction.avx.vector_length == 256 ? 32 : 16;
    constexpr std::uint32_t avx = isa::avx, avx2 = isa::avx2;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_VMOVDQU:
    case ZYDIS_MNEMONIC_VMOVUPS:
    case ZYDIS_MNEMONIC_VMOVUPD:
    case ZYDIS_MNEMONIC_VLDDQU:
        return &op_move<avx, avx, false>;
    case ZYDIS_MNEMONIC_VMOVDQA:
    case ZYDIS_MNEMONIC_VMOVAPS:
    case ZYDIS_MNEMONIC_VMOVAPD:
    case ZYDIS_MNEMONIC_VMOVNTDQ:
    case ZYDIS_MNEMONIC_VMOVNTPS:
    case ZYDIS_MNEMONIC_VMOVNTPD:
        return &op_move<avx, avx, true>;
    case ZYDIS_MNEMONIC_VMOVNTDQA:
        return &op_move<avx, avx2, true>;
    case ZYDIS_MNEMONIC_VMOVSS:
    case ZYDIS_MNEMONIC_VMOVSD: // the load and store forms; three registers merge (arithmetic)
        return op.operands[2].kind == OperandKind::Xmm
                   ? select_avx_arithmetic_handler(instruction, op)
                   : &op_move<avx, avx, false>;
    case ZYDIS_MNEMONIC_VMOVD:
        return &op_move_low<4>;
    case ZYDIS_MNEMONIC_VMOVQ:
        return &op_move_low<8>;
    case ZYDIS_MNEMONIC_VMOVLPS:
    case ZYDIS_MNEMONIC_VMOVLPD:
        return &op_move_half<0>;
    case ZYDIS_MNEMONIC_VMOVHPS:
    case ZYDIS_MNEMONIC_VMOVHPD:
        return &op_move_half<1>;
    case ZYDIS_MNEMONIC_VMOVHLPS:
        return &op_move_halves<true>;
    case ZYDIS_MNEMONIC_VMOVLHPS:
        return &op_move_halves<false>;
    case ZYDIS_MNEMONIC_VBROADCASTI128:
        return &op_broadcast_128<avx2>;
    case ZYDIS_MNEMONIC_VBROADCASTF128:
        return &op_broadcast_128<avx>;
    case ZYDIS_MNEMONIC_VPMASKMOVD:
        return &op_masked_move<avx2, 4>;
    case ZYDIS_MNEMONIC_VPMASKMOVQ:
        return &op_masked_move<avx2, 8>;
    case ZYDIS_MNEMONIC_VMASKMOVPS:
        return &op_masked_move<avx, 4>;
    case ZYDIS_MNEMONIC_VMASKMOVPD:
        return &op_masked_move<avx, 8>;
    case ZYDIS_MNEMONIC_VPMOVMSKB:
        return &op_move_mask<1>;
    case ZYDIS_MNEMONIC_VMOVMSKPS:
        return &op_move_mask<4>;
    case ZYDIS_MNEMONIC_VMOVMSKPD:
        return &op_move_mask<8>;
    case ZYDIS_MNEMONIC_VPTEST:
        return &op_test<1>;
    case ZYDIS_MNEMONIC_VTESTPS:
        return &op_test<4>;
    case ZYDIS_MNEMONIC_VTESTPD:
        return &op_test<8>;
    case ZYDIS_MNEMONIC_VZEROUPPER:
        return &op_zero_registers<false>;
    case ZYDIS_MNEMONIC_VZEROALL:
        return &op_zero_registers<true>;
    case ZYDIS_MNEMONIC_VPINSRB:
        return &op_insert<std::uint8_t>;
    case ZYDIS_MNEMONIC_VPINSRW:
        return &op_insert<std::uint16_t>;
    case ZYDIS_MNEMONIC_VPINSRD:
        return &op_insert<std::uint32_t>;
    case ZYDIS_MNEMONIC_VPINSRQ:
        return &op_insert<std::uint64_t>;
    case ZYDIS_MNEMONIC_VPEXTRB:
        return &op_extract<std::uint8_t>;
    case ZYDIS_MNEMONIC_VPEXTRW:
        return &op_extract<std::uint16_t>;
    case ZYDIS_MNEMONIC_VPEXTRD:
    case ZYDIS_MNEMONIC_VEXTRACTPS:
        return &op_extract<std::uint32_t>;
    case ZYDIS_MNEMONIC_VPEXTRQ:
        return &op_extract<std::uint64_t>;
    case ZYDIS_MNEMONIC_VCVTSI2SS:
        return wide_gpr(op.operands[2]) ? &op_convert_from_integer<float, true>
                                        : &op_convert_from_integer<float, false>;
    case ZYDIS_MNEMONIC_VCVTSI2SD:
        return wide_gpr(op.operands[2]) ? &op_convert_from_integer<double, true>
                                        : &op_convert_from_integer<double, false>;
    case ZYDIS_MNEMONIC_VCVTTSS2SI:
        return wide_gpr(op.operands[0]) ? &op_convert_to_integer<float, true, true>
                                        : &op_convert_to_integer<float, false, true>;
    case ZYDIS_MNEMONIC_VCVTSS2SI:
        return wide_gpr(op.operands[0]) ? &op_convert_to_integer<float, true, false>
                                        : &op_convert_to_integer<float, false, false>;
    case ZYDIS_MNEMONIC_VCVTTSD2SI:
        return wide_gpr(op.operands[0]) ? &op_convert_to_integer<double, true, true>
                                        : &op_convert_to_integer<double, false, true>;
    case ZYDIS_MNEMONIC_VCVTSD2SI:
        return wide_gpr(op.operands[0]) ? &op_convert_to_integer<double, true, false>
                                        : &op_convert_to_integer<double, false, false>;
    case ZYDIS_MNEMONIC_VCOMISS:
        return &op_compare_flags<float, true>;
    case ZYDIS_MNEMONIC_VUCOMISS:
        return &op_compare_flags<float, false>;
    case ZYDIS_MNEMONIC_VCOMISD:
        return &op_compare_flags<double, true>;
    case ZYDIS_MNEMONIC_VUCOMISD:
        return &op_compare_flags<double, false>;
    case ZYDIS_MNEMONIC_VLDMXCSR:
        return &op_load_mxcsr;
    case ZYDIS_MNEMONIC_VSTMXCSR:
        return &op_store_mxcsr;
    default:
        return select_avx_arithmetic_handler(instruction, op);
    }
}

} // namespace vessel::soft

#pragma GCC pop_options
