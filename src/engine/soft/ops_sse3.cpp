// SSE3 and SSSE3 handlers (xmm forms; the mm forms are in ops_mmx.cpp): horizontal
// and alternating float arithmetic, duplicating moves, lddqu, and the SSSE3 byte shuffle, align,
// absolute value, sign, horizontal integer and multiply instructions. Each runs on the host's unit.
#include "engine/soft/handlers.hpp"
#include "engine/soft/sse_extension_handlers.hpp"

#pragma GCC push_options
#pragma GCC target("sse3,ssse3,sse4.1,sse4.2,popcnt")

namespace vessel::soft {

namespace {

using namespace sse_extension;
using sse_host::as_bits;
using sse_host::as_double;
using sse_host::as_float;

// ---- SSE3 ----
__m128i addsubps(__m128i a, __m128i b) {
    return as_bits(_mm_addsub_ps(as_float(a), as_float(b)));
}
__m128i addsubpd(__m128i a, __m128i b) {
    return as_bits(_mm_addsub_pd(as_double(a), as_double(b)));
}
__m128i haddps(__m128i a, __m128i b) {
    return as_bits(_mm_hadd_ps(as_float(a), as_float(b)));
}
__m128i haddpd(__m128i a, __m128i b) {
    return as_bits(_mm_hadd_pd(as_double(a), as_double(b)));
}
__m128i hsubps(__m128i a, __m128i b) {
    return as_bits(_mm_hsub_ps(as_float(a), as_float(b)));
}
__m128i hsubpd(__m128i a, __m128i b) {
    return as_bits(_mm_hsub_pd(as_double(a), as_double(b)));
}
__m128i movddup(__m128i b) {
    return as_bits(_mm_movedup_pd(as_double(b)));
}
__m128i movshdup(__m128i b) {
    return as_bits(_mm_movehdup_ps(as_float(b)));
}
__m128i movsldup(__m128i b) {
    return as_bits(_mm_moveldup_ps(as_float(b)));
}
__m128i copy(__m128i b) {
    return b;
}

// ---- SSSE3 ----
__m128i pabsb(__m128i b) {
    return _mm_abs_epi8(b);
}
__m128i pabsw(__m128i b) {
    return _mm_abs_epi16(b);
}
__m128i pabsd(__m128i b) {
    return _mm_abs_epi32(b);
}
__m128i phaddw(__m128i a, __m128i b) {
    return _mm_hadd_epi16(a, b);
}
__m128i phaddd(__m128i a, __m128i b) {
    return _mm_hadd_epi32(a, b);
}
__m128i phaddsw(__m128i a, __m128i b) {
    return _mm_hadds_epi16(a, b);
}
__m128i phsubw(__m128i a, __m128i b) {
    return _mm_hsub_epi16(a, b);
}
__m128i phsubd(__m128i a, __m128i b) {
    return _mm_hsub_epi32(a, b);
}
__m128i phsubsw(__m128i a, __m128i b) {
    return _mm_hsubs_epi16(a, b);
}
__m128i pmaddubsw(__m128i a, __m128i b) {
    return _mm_maddubs_epi16(a, b);
}
__m128i pmulhrsw(__m128i a, __m128i b) {
    return _mm_mulhrs_epi16(a, b);
}
__m128i pshufb(__m128i a, __m128i b) {
    return _mm_shuffle_epi8(a, b);
}
__m128i psignb(__m128i a, __m128i b) {
    return _mm_sign_epi8(a, b);
}
__m128i psignw(__m128i a, __m128i b) {
    return _mm_sign_epi16(a, b);
}
__m128i psignd(__m128i a, __m128i b) {
    return _mm_sign_epi32(a, b);
}
VESSEL_IMMEDIATE_KERNELS(palignr, 256, _mm_alignr_epi8(a, b, I))

} // namespace

// Handler selection runs on any host (the CPU model decides whether the handlers may run).
#pragma GCC pop_options

OpHandler select_sse3_handler(const ZydisDecodedInstruction& instruction, DecodedOp&) {
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_ADDSUBPS:
        return &op_binary<isa::sse3, addsubps, Source::Aligned, true>;
    case ZYDIS_MNEMONIC_ADDSUBPD:
        return &op_binary<isa::sse3, addsubpd, Source::Aligned, true>;
    case ZYDIS_MNEMONIC_HADDPS:
        return &op_binary<isa::sse3, haddps, Source::Aligned, true>;
    case ZYDIS_MNEMONIC_HADDPD:
        return &op_binary<isa::sse3, haddpd, Source::Aligned, true>;
    case ZYDIS_MNEMONIC_HSUBPS:
        return &op_binary<isa::sse3, hsubps, Source::Aligned, true>;
    case ZYDIS_MNEMONIC_HSUBPD:
        return &op_binary<isa::sse3, hsubpd, Source::Aligned, true>;
    case ZYDIS_MNEMONIC_MOVDDUP:
        return &op_unary<isa::sse3, movddup, Source::Scalar>;
    case ZYDIS_MNEMONIC_MOVSHDUP:
        return &op_unary<isa::sse3, movshdup>;
    case ZYDIS_MNEMONIC_MOVSLDUP:
        return &op_unary<isa::sse3, movsldup>;
    case ZYDIS_MNEMONIC_LDDQU:
        return &op_unary<isa::sse3, copy, Source::Unaligned>;
    case ZYDIS_MNEMONIC_PABSB:
        return &op_unary<isa::ssse3, pabsb>;
    case ZYDIS_MNEMONIC_PABSW:
        return &op_unary<isa::ssse3, pabsw>;
    case ZYDIS_MNEMONIC_PABSD:
        return &op_unary<isa::ssse3, pabsd>;
    case ZYDIS_MNEMONIC_PHADDW:
        return &op_binary<isa::ssse3, phaddw>;
    case ZYDIS_MNEMONIC_PHADDD:
        return &op_binary<isa::ssse3, phaddd>;
    case ZYDIS_MNEMONIC_PHADDSW:
        return &op_binary<isa::ssse3, phaddsw>;
    case ZYDIS_MNEMONIC_PHSUBW:
        return &op_binary<isa::ssse3, phsubw>;
    case ZYDIS_MNEMONIC_PHSUBD:
        return &op_binary<isa::ssse3, phsubd>;
    case ZYDIS_MNEMONIC_PHSUBSW:
        return &op_binary<isa::ssse3, phsubsw>;
    case ZYDIS_MNEMONIC_PMADDUBSW:
        return &op_binary<isa::ssse3, pmaddubsw>;
    case ZYDIS_MNEMONIC_PMULHRSW:
        return &op_binary<isa::ssse3, pmulhrsw>;
    case ZYDIS_MNEMONIC_PSHUFB:
        return &op_binary<isa::ssse3, pshufb>;
    case ZYDIS_MNEMONIC_PSIGNB:
        return &op_binary<isa::ssse3, psignb>;
    case ZYDIS_MNEMONIC_PSIGNW:
        return &op_binary<isa::ssse3, psignw>;
    case ZYDIS_MNEMONIC_PSIGND:
        return &op_binary<isa::ssse3, psignd>;
    case ZYDIS_MNEMONIC_PALIGNR:
        return &op_binary_immediate<isa::ssse3, 256, palignr_table>;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
