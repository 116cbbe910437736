// SSE4.1 and SSE4.2 handlers: blends, dot products, rounding, inserts and extracts, packed
// min/max/multiply/compare, sign and zero extension, ptest, mpsadbw, phminposuw, the string
// compares (pcmpestri/m, pcmpistri/m) and crc32. Each runs on the host's unit.
#include <limits>

#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/sse_extension_handlers.hpp"

#pragma GCC push_options
#pragma GCC target("sse3,ssse3,sse4.1,sse4.2,popcnt")

namespace vessel::soft {

namespace {

using namespace sse_extension;
using sse_host::as_bits;
using sse_host::as_double;
using sse_host::as_float;

// ---- kernels ----
__m128i copy(__m128i b) {
    return b;
}
#define VESSEL_BINARY_KERNEL(name, intrinsic)                                                      \
    __m128i name(__m128i a, __m128i b) {                                                           \
        return intrinsic(a, b);                                                                    \
    }
VESSEL_BINARY_KERNEL(packusdw, _mm_packus_epi32)
VESSEL_BINARY_KERNEL(pcmpeqq, _mm_cmpeq_epi64)
VESSEL_BINARY_KERNEL(pcmpgtq, _mm_cmpgt_epi64)
VESSEL_BINARY_KERNEL(pmaxsb, _mm_max_epi8)
VESSEL_BINARY_KERNEL(pmaxsd, _mm_max_epi32)
VESSEL_BINARY_KERNEL(pmaxud, _mm_max_epu32)
VESSEL_BINARY_KERNEL(pmaxuw, _mm_max_epu16)
VESSEL_BINARY_KERNEL(pminsb, _mm_min_epi8)
VESSEL_BINARY_KERNEL(pminsd, _mm_min_epi32)
VESSEL_BINARY_KERNEL(pminud, _mm_min_epu32)
VESSEL_BINARY_KERNEL(pminuw, _mm_min_epu16)
VESSEL_BINARY_KERNEL(pmuldq, _mm_mul_epi32)
VESSEL_BINARY_KERNEL(pmulld, _mm_mullo_epi32)
#undef VESSEL_BINARY_KERNEL

#define VESSEL_UNARY_KERNEL(name, intrinsic)                                                       \
    __m128i name(__m128i b) {                                                                      \
        return intrinsic(b);                                                                       \
    }
VESSEL_UNARY_KERNEL(phminposuw, _mm_minpos_epu16)
VESSEL_UNARY_KERNEL(pmovsxbw, _mm_cvtepi8_epi16)
VESSEL_UNARY_KERNEL(pmovsxbd, _mm_cvtepi8_epi32)
VESSEL_UNARY_KERNEL(pmovsxbq, _mm_cvtepi8_epi64)
VESSEL_UNARY_KERNEL(pmovsxwd, _mm_cvtepi16_epi32)
VESSEL_UNARY_KERNEL(pmovsxwq, _mm_cvtepi16_epi64)
VESSEL_UNARY_KERNEL(pmovsxdq, _mm_cvtepi32_epi64)
VESSEL_UNARY_KERNEL(pmovzxbw, _mm_cvtepu8_epi16)
VESSEL_UNARY_KERNEL(pmovzxbd, _mm_cvtepu8_epi32)
VESSEL_UNARY_KERNEL(pmovzxbq, _mm_cvtepu8_epi64)
VESSEL_UNARY_KERNEL(pmovzxwd, _mm_cvtepu16_epi32)
VESSEL_UNARY_KERNEL(pmovzxwq, _mm_cvtepu16_epi64)
VESSEL_UNARY_KERNEL(pmovzxdq, _mm_cvtepu32_epi64)
#undef VESSEL_UNARY_KERNEL

__m128i blendvps(__m128i a, __m128i b, __m128i mask) {
    return as_bits(_mm_blendv_ps(as_float(a), as_float(b), as_float(mask)));
}
__m128i blendvpd(__m128i a, __m128i b, __m128i mask) {
    return as_bits(_mm_blendv_pd(as_double(a), as_double(b), as_double(mask)));
}
__m128i pblendvb(__m128i a, __m128i b, __m128i mask) {
    return _mm_blendv_epi8(a, b, mask);
}

VESSEL_IMMEDIATE_KERNELS(blendps, 16, as_bits(_mm_blend_ps(as_float(a), as_float(b), I)))
VESSEL_IMMEDIATE_KERNELS(blendpd, 4, as_bits(_mm_blend_pd(as_double(a), as_double(b), I)))
VESSEL_IMMEDIATE_KERNELS(pblendw, 256, _mm_blend_epi16(a, b, I))
VESSEL_IMMEDIATE_KERNELS(dpps, 256, as_bits(_mm_dp_ps(as_float(a), as_float(b), I)))
VESSEL_IMMEDIATE_KERNELS(dppd, 256, as_bits(_mm_dp_pd(as_double(a), as_double(b), I)))
VESSEL_IMMEDIATE_KERNELS(insertps, 256, as_bits(_mm_insert_ps(as_float(a), as_float(b), I)))
VESSEL_IMMEDIATE_KERNELS(mpsadbw, 8, _mm_mpsadbw_epu8(a, b, I))
VESSEL_IMMEDIATE_KERNELS(roundps, 16, as_bits(_mm_round_ps(as_float(b), I)))
VESSEL_IMMEDIATE_KERNELS(roundpd, 16, as_bits(_mm_round_pd(as_double(b), I)))
VESSEL_IMMEDIATE_KERNELS(roundss, 16, as_bits(_mm_round_ss(as_float(a), as_float(b), I)))
VESSEL_IMMEDIATE_KERNELS(roundsd, 16, as_bits(_mm_round_sd(as_double(a), as_double(b), I)))

/// What a string compare leaves: the index (ecx) or mask (xmm0), and CF ZF SF OF.
struct StringResult {
    __m128i mask;
    std::uint32_t index;
    bool carry, zero, sign, overflow;
};
using StringKernel = StringResult (*)(__m128i a, __m128i b, std::int32_t la, std::int32_t lb);
enum class StringCompare { ExplicitIndex, ExplicitMask, ImplicitIndex, ImplicitMask };

/// One string compare on the host, its flags taken from the instruction itself.
template <StringCompare K, int I>
StringResult string_kernel(__m128i a, __m128i b, std::int32_t la, std::int32_t lb) {
    StringResult r{};
    if constexpr (K == StringCompare::ExplicitIndex)
        asm("pcmpestri %[imm], %[b], %[a]"
            : "=c"(r.index), "=@ccc"(r.carry), "=@ccz"(r.zero), "=@ccs"(r.sign), "=@cco"(r.overflow)
            : [a] "x"(a), [b] "x"(b), "a"(la), "d"(lb), [imm] "i"(I));
    else if constexpr (K == StringCompare::ExplicitMask)
        asm("pcmpestrm %[imm], %[b], %[a]"
            : "=Yz"(r.mask), "=@ccc"(r.carry), "=@ccz"(r.zero), "=@ccs"(r.sign), "=@cco"(r.overflow)
            : [a] "x"(a), [b] "x"(b), "a"(la), "d"(lb), [imm] "i"(I));
    else if constexpr (K == StringCompare::ImplicitIndex)
        asm("pcmpistri %[imm], %[b], %[a]"
            : "=c"(r.index), "=@ccc"(r.carry), "=@ccz"(r.zero), "=@ccs"(r.sign), "=@cco"(r.overflow)
            : [a] "x"(a), [b] "x"(b), [imm] "i"(I));
    else
        asm("pcmpistrm %[imm], %[b], %[a]"
            : "=Yz"(r.mask), "=@ccc"(r.carry), "=@ccz"(r.zero), "=@ccs"(r.sign), "=@cco"(r.overflow)
            : [a] "x"(a), [b] "x"(b), [imm] "i"(I));
    (void)la;
    (void)lb;
    return r;
}

struct StringTable {
    StringKernel entries[256];
};
template <StringCompare K, std::size_t... I>
constexpr StringTable string_table_of(std::index_sequence<I...>) {
    return {{&string_kernel<K, static_cast<int>(I)>...}};
}
template <StringCompare K>
constexpr StringTable string_table = string_table_of<K>(std::make_index_sequence<256>());

/// An explicit string length from rax/rdx: its absolute value, saturated at 16 (the host
/// saturates further to 8 for word elements).
std::int32_t string_length(CpuCore& cpu, unsigned reg, bool wide) {
    std::int64_t value =
        wide ? static_cast<std::int64_t>(cpu.gpr[reg]) : static_cast<std::int32_t>(cpu.gpr[reg]);
    if (value < 0) value = value == std::numeric_limits<std::int64_t>::min() ? 16 : -value;
    return static_cast<std::int32_t>(value > 16 ? 16 : value);
}

template <StringCompare K> void op_string_compare(CpuCore& cpu, const DecodedOp& op) {
    check_extension(cpu, isa::sse42);
    const Xmm b = read_kernel_source(cpu, op, Source::Unaligned);
    const Xmm& a = xmm(cpu, op.operands[0].index);
    const bool explicit_length =
        K == StringCompare::ExplicitIndex || K == StringCompare::ExplicitMask;
    const std::int32_t la =
        explicit_length ? string_length(cpu, x86::rax, op.operand_size == 8) : 0;
    const std::int32_t lb =
        explicit_length ? string_length(cpu, x86::rdx, op.operand_size == 8) : 0;
    const StringResult r = string_table<K>.entries[op.immediate & 0xff](
        sse_host::load(a.q), sse_host::load(b.q), la, lb);
    if (K == StringCompare::ExplicitIndex || K == StringCompare::ImplicitIndex)
        cpu.set_reg<4>(x86::rcx, r.index);
    else
        sse_host::store(xmm(cpu, 0).q, r.mask);
    std::uint64_t flags = cpu.flags() & ~arithmetic_flags;
    if (r.carry) flags |= x86::rflags::cf;
    if (r.zero) flags |= x86::rflags::zf;
    if (r.sign) flags |= x86::rflags::sf;
    if (r.overflow) flags |= x86::rflags::of;
    cpu.set_flags(flags);
}

/// ptest: ZF when a AND b is 0, CF when (NOT a) AND b is 0; the other arithmetic flags clear.
void op_ptest(CpuCore& cpu, const DecodedOp& op) {
    check_extension(cpu, isa::sse41);
    const Xmm b = read_kernel_source(cpu, op, Source::Aligned);
    const Xmm& a = xmm(cpu, op.operands[0].index);
    std::uint64_t flags = cpu.flags() & ~arithmetic_flags;
    if (((a.q[0] & b.q[0]) | (a.q[1] & b.q[1])) == 0) flags |= x86::rflags::zf;
    if (((~a.q[0] & b.q[0]) | (~a.q[1] & b.q[1])) == 0) flags |= x86::rflags::cf;
    cpu.set_flags(flags);
}

/// pextrb/w/d/q, extractps: element imm8 of xmm to a register (zero-extended) or memory.
template <typename E> void op_extract(CpuCore& cpu, const DecodedOp& op) {
    check_extension(cpu, isa::sse41);
    const E value = xmm(cpu, op.operands[1].index).get<E>(op.immediate % (16 / sizeof(E)));
    const Operand& destination = op.operands[0];
    if (destination.kind == OperandKind::Gpr) {
        if (destination.size == 8)
            cpu.set_reg<8>(destination.index, value);
        else
            cpu.set_reg<4>(destination.index, value);
        return;
    }
    cpu.write_sized(cpu.linear_address(op), sizeof(E), value);
}

/// pinsrb/d/q: a register's low bits or memory into element imm8 of xmm.
template <typename E> void op_insert(CpuCore& cpu, const DecodedOp& op) {
    check_extension(cpu, isa::sse41);
    const Xmm source = read_source(cpu, op, 1, sizeof(E));
    xmm(cpu, op.operands[0].index)
        .set<E>(op.immediate % (16 / sizeof(E)), static_cast<E>(source.q[0]));
}

/// insertps: from memory the dword read is the source element (imm8 bits 7:6 do not apply).
void op_insertps(CpuCore& cpu, const DecodedOp& op) {
    check_extension(cpu, isa::sse41);
    const bool memory = op.operands[1].kind == OperandKind::Memory;
    const Xmm b = read_source(cpu, op, 1, memory ? 4 : 16);
    Xmm& a = xmm(cpu, op.operands[0].index);
    const unsigned control = memory ? op.immediate & 0x3f : op.immediate & 0xff;
    sse_host::store(a.q, insertps_table[control](sse_host::load(a.q), sse_host::load(b.q)));
}

/// crc32 r32/r64, r/m8/16/32/64: CRC-32C (Castagnoli) on the host's instruction.
void op_crc32(CpuCore& cpu, const DecodedOp& op) {
    cpu.require_feature(isa::sse42);
    const unsigned destination = op.operands[0].index;
    std::uint32_t crc = static_cast<std::uint32_t>(cpu.gpr[destination]);
    switch (op.operands[1].size) {
    case 1:
        crc = _mm_crc32_u8(crc, static_cast<std::uint8_t>(read_operand<1>(cpu, op, 1)));
        break;
    case 2:
        crc = _mm_crc32_u16(crc, static_cast<std::uint16_t>(read_operand<2>(cpu, op, 1)));
        break;
    case 4:
        crc = _mm_crc32_u32(crc, static_cast<std::uint32_t>(read_operand<4>(cpu, op, 1)));
        break;
    default:
        crc = static_cast<std::uint32_t>(_mm_crc32_u64(crc, read_operand<8>(cpu, op, 1)));
        break;
    }
    cpu.set_reg<4>(destination, crc);
}

} // namespace

// Handler selection runs on any host (the CPU model decides whether the handlers may run).
#pragma GCC pop_options

OpHandler select_sse4_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    constexpr std::uint32_t sse41 = isa::sse41, sse42 = isa::sse42;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_BLENDPS:
        return &op_binary_immediate<sse41, 16, blendps_table>;
    case ZYDIS_MNEMONIC_BLENDPD:
        return &op_binary_immediate<sse41, 4, blendpd_table>;
    case ZYDIS_MNEMONIC_PBLENDW:
        return &op_binary_immediate<sse41, 256, pblendw_table>;
    case ZYDIS_MNEMONIC_BLENDVPS:
        return &op_blend_variable<sse41, blendvps>;
    case ZYDIS_MNEMONIC_BLENDVPD:
        return &op_blend_variable<sse41, blendvpd>;
    case ZYDIS_MNEMONIC_PBLENDVB:
        return &op_blend_variable<sse41, pblendvb>;
    case ZYDIS_MNEMONIC_DPPS:
        return &op_binary_immediate<sse41, 256, dpps_table, Source::Aligned, true>;
    case ZYDIS_MNEMONIC_DPPD:
        return &op_binary_immediate<sse41, 256, dppd_table, Source::Aligned, true>;
    case ZYDIS_MNEMONIC_ROUNDPS:
        return &op_binary_immediate<sse41, 16, roundps_table, Source::Aligned, true>;
    case ZYDIS_MNEMONIC_ROUNDPD:
        return &op_binary_immediate<sse41, 16, roundpd_table, Source::Aligned, true>;
    case ZYDIS_MNEMONIC_ROUNDSS:
        return &op_binary_immediate<sse41, 16, roundss_table, Source::Scalar, true>;
    case ZYDIS_MNEMONIC_ROUNDSD:
        return &op_binary_immediate<sse41, 16, roundsd_table, Source::Scalar, true>;
    case ZYDIS_MNEMONIC_MPSADBW:
        return &op_binary_immediate<sse41, 8, mpsadbw_table>;
    case ZYDIS_MNEMONIC_INSERTPS:
        return &op_insertps;
    case ZYDIS_MNEMONIC_EXTRACTPS:
    case ZYDIS_MNEMONIC_PEXTRD:
        return &op_extract<std::uint32_t>;
    case ZYDIS_MNEMONIC_PEXTRB:
        return &op_extract<std::uint8_t>;
    case ZYDIS_MNEMONIC_PEXTRW: // the memory form (66 0f 3a 15); ops_sse_integer.cpp has the other
        return op.operands[0].kind == OperandKind::Memory ? &op_extract<std::uint16_t> : nullptr;
    case ZYDIS_MNEMONIC_PEXTRQ:
        return &op_extract<std::uint64_t>;
    case ZYDIS_MNEMONIC_PINSRB:
        return &op_insert<std::uint8_t>;
    case ZYDIS_MNEMONIC_PINSRD:
        return &op_insert<std::uint32_t>;
    case ZYDIS_MNEMONIC_PINSRQ:
        return &op_insert<std::uint64_t>;
    case ZYDIS_MNEMONIC_MOVNTDQA:
        return &op_unary<sse41, copy>;
    case ZYDIS_MNEMONIC_PHMINPOSUW:
        return &op_unary<sse41, phminposuw>;
    case ZYDIS_MNEMONIC_PACKUSDW:
        return &op_binary<sse41, packusdw>;
    case ZYDIS_MNEMONIC_PCMPEQQ:
        return &op_binary<sse41, pcmpeqq>;
    case ZYDIS_MNEMONIC_PMAXSB:
        return &op_binary<sse41, pmaxsb>;
    case ZYDIS_MNEMONIC_PMAXSD:
        return &op_binary<sse41, pmaxsd>;
    case ZYDIS_MNEMONIC_PMAXUD:
        return &op_binary<sse41, pmaxud>;
    case ZYDIS_MNEMONIC_PMAXUW:
        return &op_binary<sse41, pmaxuw>;
    case ZYDIS_MNEMONIC_PMINSB:
        return &op_binary<sse41, pminsb>;
    case ZYDIS_MNEMONIC_PMINSD:
        return &op_binary<sse41, pminsd>;
    case ZYDIS_MNEMONIC_PMINUD:
        return &op_binary<sse41, pminud>;
    case ZYDIS_MNEMONIC_PMINUW:
        return &op_binary<sse41, pminuw>;
    case ZYDIS_MNEMONIC_PMULDQ:
        return &op_binary<sse41, pmuldq>;
    case ZYDIS_MNEMONIC_PMULLD:
        return &op_binary<sse41, pmulld>;
    case ZYDIS_MNEMONIC_PMOVSXBW:
        return &op_unary<sse41, pmovsxbw, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVSXBD:
        return &op_unary<sse41, pmovsxbd, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVSXBQ:
        return &op_unary<sse41, pmovsxbq, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVSXWD:
        return &op_unary<sse41, pmovsxwd, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVSXWQ:
        return &op_unary<sse41, pmovsxwq, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVSXDQ:
        return &op_unary<sse41, pmovsxdq, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVZXBW:
        return &op_unary<sse41, pmovzxbw, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVZXBD:
        return &op_unary<sse41, pmovzxbd, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVZXBQ:
        return &op_unary<sse41, pmovzxbq, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVZXWD:
        return &op_unary<sse41, pmovzxwd, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVZXWQ:
        return &op_unary<sse41, pmovzxwq, Source::Scalar>;
    case ZYDIS_MNEMONIC_PMOVZXDQ:
        return &op_unary<sse41, pmovzxdq, Source::Scalar>;
    case ZYDIS_MNEMONIC_PTEST:
        return &op_ptest;
    case ZYDIS_MNEMONIC_PCMPGTQ:
        return &op_binary<sse42, pcmpgtq>;
    case ZYDIS_MNEMONIC_PCMPESTRI:
        return &op_string_compare<StringCompare::ExplicitIndex>;
    case ZYDIS_MNEMONIC_PCMPESTRM:
        return &op_string_compare<StringCompare::ExplicitMask>;
    case ZYDIS_MNEMONIC_PCMPISTRI:
        return &op_string_compare<StringCompare::ImplicitIndex>;
    case ZYDIS_MNEMONIC_PCMPISTRM:
        return &op_string_compare<StringCompare::ImplicitMask>;
    case ZYDIS_MNEMONIC_CRC32:
        return &op_crc32;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
