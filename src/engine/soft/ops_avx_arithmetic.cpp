// AVX, AVX2, FMA and F16C arithmetic: the VEX instructions that compute a vector from vectors
// (integer and float arithmetic, compares, shuffles, permutes, packs, conversions, blends), each
// run by the same instruction on the host's unit. The table at the end maps mnemonics to handlers.
#include <array>
#include <cstring>
#include <string_view>

#include "engine/soft/avx_kernels.hpp"
#include "engine/soft/handlers.hpp"

#pragma GCC push_options
#pragma GCC target("avx,avx2,fma,f16c")

namespace vessel::soft {

namespace {

using avx::op_binary;
using avx::op_binary_immediate;
using avx::op_blend_variable;
using avx::op_shift_immediate;
using avx::op_ternary;
using avx::op_unary;
using avx::op_unary_immediate;

// The X-macro lists keep their rows (clang-format would stair-step them).
// clang-format off
// ---- instruction lists (X macros): the mnemonic is the kernel's name and the table key ----

/// Integer ops of both lengths: AVX for VEX.128, AVX2 for VEX.256.
#define VESSEL_INTEGER_BINARY(X)                                                                   \
    X(vpaddb) X(vpaddw) X(vpaddd) X(vpaddq) X(vpaddsb) X(vpaddsw) X(vpaddusb) X(vpaddusw)          \
    X(vpsubb) X(vpsubw) X(vpsubd) X(vpsubq) X(vpsubsb) X(vpsubsw) X(vpsubusb) X(vpsubusw)          \
    X(vpmullw) X(vpmulld) X(vpmulhw) X(vpmulhuw) X(vpmuludq) X(vpmuldq) X(vpmaddwd)                \
    X(vpmaddubsw) X(vpmulhrsw) X(vpand) X(vpandn) X(vpor) X(vpxor) X(vpcmpeqb) X(vpcmpeqw)         \
    X(vpcmpeqd) X(vpcmpeqq) X(vpcmpgtb) X(vpcmpgtw) X(vpcmpgtd) X(vpcmpgtq) X(vpmaxsb)             \
    X(vpmaxsw) X(vpmaxsd) X(vpmaxub) X(vpmaxuw) X(vpmaxud) X(vpminsb) X(vpminsw) X(vpminsd)        \
    X(vpminub) X(vpminuw) X(vpminud) X(vpavgb) X(vpavgw) X(vpsadbw) X(vpshufb) X(vpsignb)          \
    X(vpsignw) X(vpsignd) X(vphaddw) X(vphaddd) X(vphaddsw) X(vphsubw) X(vphsubd) X(vphsubsw)      \
    X(vpunpcklbw) X(vpunpcklwd) X(vpunpckldq) X(vpunpcklqdq) X(vpunpckhbw) X(vpunpckhwd)           \
    X(vpunpckhdq) X(vpunpckhqdq) X(vpacksswb) X(vpackssdw) X(vpackuswb) X(vpackusdw)
/// AVX2 at both lengths.
#define VESSEL_AVX2_BINARY(X) X(vpsllvd) X(vpsllvq) X(vpsrlvd) X(vpsrlvq) X(vpsravd)
/// AVX2, VEX.256 only (the VEX.128 encodings are invalid: Zydis never hands them over).
#define VESSEL_AVX2_WIDE_BINARY(X) X(vpermd) X(vpermps)
/// Shifts by the count in an xmm register or an immediate.
#define VESSEL_SHIFTS(X)                                                                           \
    X(vpsllw) X(vpslld) X(vpsllq) X(vpsrlw) X(vpsrld) X(vpsrlq) X(vpsraw) X(vpsrad)
/// Packed float ops (AVX at both lengths), under the guest's MXCSR.
#define VESSEL_FLOAT_BINARY(X)                                                                     \
    X(vaddps) X(vaddpd) X(vsubps) X(vsubpd) X(vmulps) X(vmulpd) X(vdivps) X(vdivpd) X(vmaxps)      \
    X(vmaxpd) X(vminps) X(vminpd) X(vandps) X(vandpd) X(vandnps) X(vandnpd) X(vorps) X(vorpd)      \
    X(vxorps) X(vxorpd) X(vunpcklps) X(vunpcklpd) X(vunpckhps) X(vunpckhpd) X(vaddsubps)           \
    X(vaddsubpd) X(vhaddps) X(vhaddpd) X(vhsubps) X(vhsubpd) X(vpermilps) X(vpermilpd)
/// Scalar float ops (VEX.128 only; bits 32/64-127 from src1).
#define VESSEL_SCALAR_BINARY(X)                                                                    \
    X(vaddss) X(vaddsd) X(vsubss) X(vsubsd) X(vmulss) X(vmulsd) X(vdivss) X(vdivsd) X(vmaxss)      \
    X(vmaxsd) X(vminss) X(vminsd) X(vsqrtss) X(vsqrtsd) X(vcvtss2sd) X(vcvtsd2ss) X(vrcpss)        \
    X(vrsqrtss) X(vmovss) X(vmovsd)
#define VESSEL_FLOAT_UNARY(X)                                                                      \
    X(vsqrtps) X(vsqrtpd) X(vrcpps) X(vrsqrtps) X(vcvtdq2ps) X(vcvtps2dq) X(vcvttps2dq)            \
    X(vmovshdup) X(vmovsldup) X(vmovddup)
#define VESSEL_INTEGER_UNARY(X) X(vpabsb) X(vpabsw) X(vpabsd)
/// 256-bit results from a 128-bit source.
#define VESSEL_WIDENING(X)                                                                         \
    X(vpmovsxbw) X(vpmovsxbd) X(vpmovsxbq) X(vpmovsxwd) X(vpmovsxwq) X(vpmovsxdq) X(vpmovzxbw)     \
    X(vpmovzxbd) X(vpmovzxbq) X(vpmovzxwd) X(vpmovzxwq) X(vpmovzxdq)
#define VESSEL_AVX2_WIDENING(X) X(vpbroadcastb) X(vpbroadcastw) X(vpbroadcastd) X(vpbroadcastq)
#define VESSEL_FLOAT_WIDENING(X) X(vcvtps2pd) X(vcvtdq2pd) X(vbroadcastss)
/// 128-bit results from a 256-bit source.
#define VESSEL_FLOAT_NARROWING(X) X(vcvtpd2ps) X(vcvtpd2dq) X(vcvttpd2dq)
#define VESSEL_FMA_FORMS(X, base)                                                                  \
    X(base##132ps) X(base##132pd) X(base##213ps) X(base##213pd) X(base##231ps) X(base##231pd)
#define VESSEL_FMA_SCALAR_FORMS(X, base)                                                           \
    X(base##132ss) X(base##132sd) X(base##213ss) X(base##213sd) X(base##231ss) X(base##231sd)
#define VESSEL_FMA_PACKED(X)                                                                       \
    VESSEL_FMA_FORMS(X, vfmadd) VESSEL_FMA_FORMS(X, vfmsub) VESSEL_FMA_FORMS(X, vfnmadd)           \
    VESSEL_FMA_FORMS(X, vfnmsub) VESSEL_FMA_FORMS(X, vfmaddsub) VESSEL_FMA_FORMS(X, vfmsubadd)
#define VESSEL_FMA_SCALAR(X)                                                                       \
    VESSEL_FMA_SCALAR_FORMS(X, vfmadd) VESSEL_FMA_SCALAR_FORMS(X, vfmsub)                          \
    VESSEL_FMA_SCALAR_FORMS(X, vfnmadd) VESSEL_FMA_SCALAR_FORMS(X, vfnmsub)
// clang-format on

// ---- kernels ----
#define VESSEL_DEFINE_BINARY(name) VESSEL_AVX_BINARY(name, #name, "%x2, %x1, %x0", "%2, %1, %0")
#define VESSEL_DEFINE_SCALAR(name) VESSEL_AVX_BINARY(name, #name, "%x2, %x1, %x0", "%x2, %x1, %x0")
#define VESSEL_DEFINE_SHIFT(name) VESSEL_AVX_BINARY(name, #name, "%x2, %x1, %x0", "%x2, %1, %0")
#define VESSEL_DEFINE_UNARY(name) VESSEL_AVX_UNARY(name, #name, "%x1, %x0", "%1, %0")
#define VESSEL_DEFINE_WIDENING(name) VESSEL_AVX_UNARY(name, #name, "%x1, %x0", "%x1, %0")
#define VESSEL_DEFINE_NARROWING(name) VESSEL_AVX_UNARY(name, #name, "%x1, %x0", "%1, %x0")
#define VESSEL_DEFINE_TERNARY(name) VESSEL_AVX_TERNARY(name, #name, "%2, %1, %0")
#define VESSEL_DEFINE_SCALAR_TERNARY(name) VESSEL_AVX_TERNARY(name, #name, "%x2, %x1, %x0")
// VEX.256-only instructions: their "128-bit" kernel is never reached, and is the 256-bit one.
#define VESSEL_DEFINE_WIDE_BINARY(name) VESSEL_AVX_BINARY(name, #name, "%2, %1, %0", "%2, %1, %0")
VESSEL_INTEGER_BINARY(VESSEL_DEFINE_BINARY)
VESSEL_AVX2_BINARY(VESSEL_DEFINE_BINARY)
VESSEL_AVX2_WIDE_BINARY(VESSEL_DEFINE_WIDE_BINARY)
VESSEL_SHIFTS(VESSEL_DEFINE_SHIFT)
VESSEL_FLOAT_BINARY(VESSEL_DEFINE_BINARY)
VESSEL_SCALAR_BINARY(VESSEL_DEFINE_SCALAR)
VESSEL_FLOAT_UNARY(VESSEL_DEFINE_UNARY)
VESSEL_INTEGER_UNARY(VESSEL_DEFINE_UNARY)
VESSEL_WIDENING(VESSEL_DEFINE_WIDENING)
VESSEL_AVX2_WIDENING(VESSEL_DEFINE_WIDENING)
VESSEL_FLOAT_WIDENING(VESSEL_DEFINE_WIDENING)
VESSEL_FLOAT_NARROWING(VESSEL_DEFINE_NARROWING)
VESSEL_AVX_UNARY(vbroadcastsd, "vbroadcastsd", "%x1, %0", "%x1, %0")
VESSEL_AVX_UNARY(vcvtph2ps, "vcvtph2ps", "%x1, %x0", "%x1, %0")
VESSEL_FMA_PACKED(VESSEL_DEFINE_TERNARY)
VESSEL_FMA_SCALAR(VESSEL_DEFINE_SCALAR_TERNARY)
VESSEL_AVX_BLEND(vblendvps, "vblendvps")
VESSEL_AVX_BLEND(vblendvpd, "vblendvpd")
VESSEL_AVX_BLEND(vpblendvb, "vpblendvb")

// Immediate forms: one kernel per meaningful immediate value.
#define VESSEL_BINARY_IMMEDIATE(name, N)                                                           \
    VESSEL_AVX_BINARY_IMMEDIATE(name, N, #name, "%3, %x2, %x1, %x0", "%3, %2, %1, %0")
#define VESSEL_UNARY_IMMEDIATE(name, N)                                                            \
    VESSEL_AVX_UNARY_IMMEDIATE(name, N, #name, "%2, %x1, %x0", "%2, %1, %0")
VESSEL_BINARY_IMMEDIATE(vshufps, 256)
VESSEL_BINARY_IMMEDIATE(vshufpd, 16)
VESSEL_BINARY_IMMEDIATE(vpblendw, 256)
VESSEL_BINARY_IMMEDIATE(vpblendd, 256)
VESSEL_BINARY_IMMEDIATE(vblendps, 256)
VESSEL_BINARY_IMMEDIATE(vblendpd, 16)
VESSEL_BINARY_IMMEDIATE(vpalignr, 256)
VESSEL_AVX_BINARY_IMMEDIATE(vperm2i128, 256, "vperm2i128", "%3, %2, %1, %0", "%3, %2, %1, %0")
VESSEL_AVX_BINARY_IMMEDIATE(vperm2f128, 256, "vperm2f128", "%3, %2, %1, %0", "%3, %2, %1, %0")
VESSEL_BINARY_IMMEDIATE(vcmpps, 32)
VESSEL_BINARY_IMMEDIATE(vcmppd, 32)
VESSEL_AVX_BINARY_IMMEDIATE(vinsertps, 256, "vinsertps", "%3, %x2, %x1, %x0", "%3, %x2, %x1, %x0")
VESSEL_BINARY_IMMEDIATE(vdpps, 256)
VESSEL_BINARY_IMMEDIATE(vmpsadbw, 64)
VESSEL_AVX_BINARY_IMMEDIATE(vcmpss, 32, "vcmpss", "%3, %x2, %x1, %x0", "%3, %x2, %x1, %x0")
VESSEL_AVX_BINARY_IMMEDIATE(vcmpsd, 32, "vcmpsd", "%3, %x2, %x1, %x0", "%3, %x2, %x1, %x0")
VESSEL_AVX_BINARY_IMMEDIATE(vroundss, 16, "vroundss", "%3, %x2, %x1, %x0", "%3, %x2, %x1, %x0")
VESSEL_AVX_BINARY_IMMEDIATE(vroundsd, 16, "vroundsd", "%3, %x2, %x1, %x0", "%3, %x2, %x1, %x0")
VESSEL_AVX_BINARY_IMMEDIATE(vinserti128, 2, "vinserti128", "%3, %x2, %1, %0", "%3, %x2, %1, %0")
VESSEL_AVX_BINARY_IMMEDIATE(vinsertf128, 2, "vinsertf128", "%3, %x2, %1, %0", "%3, %x2, %1, %0")
VESSEL_UNARY_IMMEDIATE(vpshufd, 256)
VESSEL_UNARY_IMMEDIATE(vpshufhw, 256)
VESSEL_UNARY_IMMEDIATE(vpshuflw, 256)
VESSEL_AVX_UNARY_IMMEDIATE(vpermq, 256, "vpermq", "%2, %1, %0", "%2, %1, %0")
VESSEL_AVX_UNARY_IMMEDIATE(vpermpd, 256, "vpermpd", "%2, %1, %0", "%2, %1, %0")
VESSEL_AVX_UNARY_IMMEDIATE(vpermilps_immediate, 256, "vpermilps", "%2, %x1, %x0", "%2, %1, %0")
VESSEL_UNARY_IMMEDIATE(vroundps, 16)
VESSEL_UNARY_IMMEDIATE(vroundpd, 16)
VESSEL_UNARY_IMMEDIATE(vpslldq, 256)
VESSEL_UNARY_IMMEDIATE(vpsrldq, 256)
VESSEL_AVX_UNARY_IMMEDIATE(vpermilpd_immediate, 16, "vpermilpd", "%2, %x1, %x0", "%2, %1, %0")
VESSEL_AVX_UNARY_IMMEDIATE(vextracti128, 2, "vextracti128", "%2, %1, %x0", "%2, %1, %x0")
VESSEL_AVX_UNARY_IMMEDIATE(vextractf128, 2, "vextractf128", "%2, %1, %x0", "%2, %1, %x0")
VESSEL_AVX_UNARY_IMMEDIATE(vcvtps2ph, 8, "vcvtps2ph", "%2, %x1, %x0", "%2, %1, %x0")

constexpr std::uint32_t avx = isa::avx, avx2 = isa::avx2;

struct Entry {
    std::string_view mnemonic;
    OpHandler handler;
};

#define VESSEL_INTEGER_ENTRY(name) {#name, &op_binary<avx, avx2, name##_x, name##_y, false>},
#define VESSEL_AVX2_ENTRY(name) {#name, &op_binary<avx2, avx2, name##_x, name##_y, false>},
#define VESSEL_FLOAT_ENTRY(name) {#name, &op_binary<avx, avx, name##_x, name##_y, true>},
#define VESSEL_FLOAT_UNARY_ENTRY(name) {#name, &op_unary<avx, avx, name##_x, name##_y, true>},
#define VESSEL_INTEGER_UNARY_ENTRY(name) {#name, &op_unary<avx, avx2, name##_x, name##_y, false>},
#define VESSEL_AVX2_UNARY_ENTRY(name) {#name, &op_unary<avx2, avx2, name##_x, name##_y, false>},
#define VESSEL_FMA_ENTRY(name) {#name, &op_ternary<isa::fma, name##_x, name##_y>},
#define VESSEL_BINARY_IMMEDIATE_ENTRY(name, F128, F256, N, Float)                                  \
    {#name, &op_binary_immediate<F128, F256, N, name##_x_table, name##_y_table, Float>},
#define VESSEL_UNARY_IMMEDIATE_ENTRY(mnemonic, name, F128, F256, N, Float)                         \
    {mnemonic, &op_unary_immediate<F128, F256, N, name##_x_table, name##_y_table, Float>},

/// Mnemonics whose every form the templates above run; the shifts, vpermil* and vmovss/vmovsd
/// have forms decided by operand kind (select_avx_arithmetic_handler).
const Entry entries[] = {
    VESSEL_INTEGER_BINARY(VESSEL_INTEGER_ENTRY) VESSEL_AVX2_BINARY(VESSEL_AVX2_ENTRY)
        VESSEL_AVX2_WIDE_BINARY(VESSEL_AVX2_ENTRY){
            "vbroadcastsd", &op_unary<avx, avx, vbroadcastsd_x, vbroadcastsd_y, false>},
    VESSEL_FLOAT_BINARY(VESSEL_FLOAT_ENTRY) VESSEL_SCALAR_BINARY(VESSEL_FLOAT_ENTRY)
        VESSEL_FLOAT_UNARY(VESSEL_FLOAT_UNARY_ENTRY) VESSEL_INTEGER_UNARY(
            VESSEL_INTEGER_UNARY_ENTRY) VESSEL_WIDENING(VESSEL_INTEGER_UNARY_ENTRY)
            VESSEL_AVX2_WIDENING(VESSEL_AVX2_UNARY_ENTRY) VESSEL_FLOAT_WIDENING(
                VESSEL_FLOAT_UNARY_ENTRY) VESSEL_FLOAT_NARROWING(VESSEL_FLOAT_UNARY_ENTRY)
                VESSEL_FMA_PACKED(VESSEL_FMA_ENTRY) VESSEL_FMA_SCALAR(VESSEL_FMA_ENTRY){
                    "vcvtph2ps", &op_unary<isa::f16c, isa::f16c, vcvtph2ps_x, vcvtph2ps_y, true>},
    {"vblendvps", &op_blend_variable<avx, avx, vblendvps_x, vblendvps_y>},
    {"vblendvpd", &op_blend_variable<avx, avx, vblendvpd_x, vblendvpd_y>},
    {"vpblendvb", &op_blend_variable<avx, avx2, vpblendvb_x, vpblendvb_y>},
    VESSEL_BINARY_IMMEDIATE_ENTRY(vshufps, avx, avx, 256, false) VESSEL_BINARY_IMMEDIATE_ENTRY(
        vshufpd, avx, avx, 16,
        false) VESSEL_BINARY_IMMEDIATE_ENTRY(vpblendw, avx, avx2, 256,
                                             false) VESSEL_BINARY_IMMEDIATE_ENTRY(vpblendd, avx2,
                                                                                  avx2, 256, false)
        VESSEL_BINARY_IMMEDIATE_ENTRY(vblendps, avx, avx, 256, false) VESSEL_BINARY_IMMEDIATE_ENTRY(
            vblendpd, avx, avx, 16, false) VESSEL_BINARY_IMMEDIATE_ENTRY(vpalignr, avx, avx2,
                                                                         256, false)
            VESSEL_BINARY_IMMEDIATE_ENTRY(
                vperm2i128,
                avx2, avx2,
                256, false) VESSEL_BINARY_IMMEDIATE_ENTRY(vperm2f128, avx, avx, 256, false)
                VESSEL_BINARY_IMMEDIATE_ENTRY(
                    vcmpps,
                    avx, avx, 32, true) VESSEL_BINARY_IMMEDIATE_ENTRY(vcmppd, avx, avx, 32, true)
                    VESSEL_BINARY_IMMEDIATE_ENTRY(
                        vcmpss,
                        avx, avx, 32,
                        true) VESSEL_BINARY_IMMEDIATE_ENTRY(vcmpsd, avx, avx, 32, true)
                        VESSEL_BINARY_IMMEDIATE_ENTRY(
                            vroundss, avx, avx,
                            16,
                            true) VESSEL_BINARY_IMMEDIATE_ENTRY(vroundsd, avx, avx, 16, true)
                            VESSEL_BINARY_IMMEDIATE_ENTRY(
                                vinsertps, avx,
                                avx, 256,
                                false) VESSEL_BINARY_IMMEDIATE_ENTRY(vdpps, avx, avx, 256, true)
                                VESSEL_BINARY_IMMEDIATE_ENTRY(vmpsadbw, avx, avx2, 64, false)
                                    VESSEL_BINARY_IMMEDIATE_ENTRY(
                                        vinserti128, avx2, avx2,
                                        2, false) VESSEL_BINARY_IMMEDIATE_ENTRY(vinsertf128,
                                                                                avx, avx, 2, false)
                                        VESSEL_UNARY_IMMEDIATE_ENTRY(
                                            "vpshufd", vpshufd,
                                            avx, avx2, 256,
                                            false) VESSEL_UNARY_IMMEDIATE_ENTRY("vpshufhw", vpshufhw,
                                                                                avx,
                                                                                avx2, 256, false)
                                            VESSEL_UNARY_IMMEDIATE_ENTRY(
                                                "vpshuflw",
                                                vpshuflw, avx, avx2, 256, false)
                                                VESSEL_UNARY_IMMEDIATE_ENTRY("vpermq", vpermq, avx2,
                                                                             avx2, 256, false)
                                                    VESSEL_UNARY_IMMEDIATE_ENTRY(
                                                        "vpermpd",
                                                        vpermpd, avx2, avx2, 256,
                                                        false) VESSEL_UNARY_IMMEDIATE_ENTRY("vround"
                                                                                            "ps",
                                                                                            vroundps,
                                                                                            avx,
                                                                                            avx, 16, true)
                                                        VESSEL_UNARY_IMMEDIATE_ENTRY(
                                                            "vroundpd",
                                                            vroundpd,
                                                            avx, avx, 16, true)
                                                            VESSEL_UNARY_IMMEDIATE_ENTRY(
                                                                "vpslldq", vpslldq, avx, avx2, 256,
                                                                false)
                                                                VESSEL_UNARY_IMMEDIATE_ENTRY(
                                                                    "vpsrldq", vpsrldq, avx, avx2,
                                                                    256, false)
                                                                    VESSEL_UNARY_IMMEDIATE_ENTRY(
                                                                        "vextracti128",
                                                                        vextracti128, avx2, avx2, 2,
                                                                        false)
                                                                        VESSEL_UNARY_IMMEDIATE_ENTRY(
                                                                            "vextractf128",
                                                                            vextractf128, avx, avx,
                                                                            2, false)
                                                                            VESSEL_UNARY_IMMEDIATE_ENTRY(
                                                                                "vcvtps2ph",
                                                                                vcvtps2ph,
                                                                                isa::f16c,
                                                                                isa::f16c, 8,
                                                                                true)};

#define VESSEL_SHIFT_ENTRY(name) {#name, &op_binary<avx, avx2, name##_x, name##_y, false>},
#define VESSEL_SHIFT_IMMEDIATE_ENTRY(name)                                                         \
    {#name, &op_shift_immediate<avx, avx2, name##_x, name##_y>},
const Entry shift_entries[] = {VESSEL_SHIFTS(VESSEL_SHIFT_ENTRY)};
const Entry shift_immediate_entries[] = {VESSEL_SHIFTS(VESSEL_SHIFT_IMMEDIATE_ENTRY)};
const Entry permute_immediate_entries[] = {
    VESSEL_UNARY_IMMEDIATE_ENTRY("vpermilps", vpermilps_immediate, avx, avx, 256, false)
        VESSEL_UNARY_IMMEDIATE_ENTRY("vpermilpd", vpermilpd_immediate, avx, avx, 16, false)};

/// Handlers indexed by mnemonic, built once from a table of names.
template <std::size_t N> struct MnemonicIndex {
    std::array<OpHandler, ZYDIS_MNEMONIC_MAX_VALUE + 1> handlers{};
    explicit MnemonicIndex(const Entry (&table)[N]) {
        for (int mnemonic = 0; mnemonic <= ZYDIS_MNEMONIC_MAX_VALUE; ++mnemonic) {
            const char* name = ZydisMnemonicGetString(static_cast<ZydisMnemonic>(mnemonic));
            if (name == nullptr) continue;
            for (const Entry& entry : table)
                if (entry.mnemonic == name) handlers[mnemonic] = entry.handler;
        }
    }
    OpHandler operator[](ZydisMnemonic mnemonic) const { return handlers[mnemonic]; }
};

} // namespace

OpHandler select_avx_arithmetic_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    static const MnemonicIndex index{entries};
    static const MnemonicIndex shifts{shift_entries};
    static const MnemonicIndex shifts_immediate{shift_immediate_entries};
    static const MnemonicIndex permutes_immediate{permute_immediate_entries};
    const ZydisMnemonic mnemonic = instruction.mnemonic;
    if (shifts[mnemonic] != nullptr)
        return op.operands[2].kind == OperandKind::Immediate ? shifts_immediate[mnemonic]
                                                             : shifts[mnemonic];
    if (permutes_immediate[mnemonic] != nullptr && op.operands[2].kind == OperandKind::Immediate)
        return permutes_immediate[mnemonic];
    // vmovss/vmovsd: the three-register form merges; loads and stores are moves
    // (ops_avx_move.cpp).
    if ((mnemonic == ZYDIS_MNEMONIC_VMOVSS || mnemonic == ZYDIS_MNEMONIC_VMOVSD) &&
        op.operands[2].kind != OperandKind::Xmm)
        return nullptr;
    return index[mnemonic];
}

} // namespace vessel::soft

#pragma GCC pop_options
