// SequenceGenerator: the x86-64-v3 vector families (AVX, AVX2, FMA, F16C): VEX.128 and VEX.256
// forms over random registers and memory, so the upper halves of the YMM registers (written by
// VEX.256, zeroed by VEX.128, kept by legacy SSE) are compared too, and vzeroupper/vzeroall.
#include "sequence_generator.hpp"

namespace vessel::difftest {

/// A VEX vector instruction form (Intel SDM Vol. 2, the instruction's opcode table).
struct AvxVectorForm {
    std::uint8_t map, pp, opcode;
    int w;                       ///< VEX.W: 0, 1, or -1 (either; WIG)
    unsigned lengths;            ///< 1: VEX.128 only, 2: VEX.256 only, 3: both
    bool vvvv;                   ///< a second source in VEX.vvvv (else vvvv = 1111b)
    unsigned immediate_bound{0}; ///< imm8 below this; 0: none
    /// Memory operand size: 0 the vector length, a negative n the length >> -n (half, quarter),
    /// a positive n exactly n bytes (scalars, counts, broadcasts).
    int memory{0};
    bool aligned{false};      ///< #GP unless the memory operand is aligned to its size
    bool is4{false};          ///< imm8[7:4] names a fourth register (vblendv*)
    bool writes_flags{false}; ///< vptest, vtestps/pd: every arithmetic flag defined
};

namespace {

constexpr unsigned both = 3, narrow = 1, wide = 2;

const AvxVectorForm avx_forms[] = {
    // Integer arithmetic and logic (66 0F): AVX at 128 bits, AVX2 at 256.
    {1, 1, 0xfe, -1, both, true},
    {1, 1, 0xfd, -1, both, true},
    {1, 1, 0xfc, -1, both, true},
    {1, 1, 0xd4, -1, both, true},
    {1, 1, 0xfa, -1, both, true},
    {1, 1, 0xf9, -1, both, true},
    {1, 1, 0xf8, -1, both, true},
    {1, 1, 0xfb, -1, both, true},
    {1, 1, 0xec, -1, both, true},
    {1, 1, 0xed, -1, both, true},
    {1, 1, 0xdc, -1, both, true},
    {1, 1, 0xdd, -1, both, true},
    {1, 1, 0xe8, -1, both, true},
    {1, 1, 0xe9, -1, both, true},
    {1, 1, 0xd8, -1, both, true},
    {1, 1, 0xd9, -1, both, true},
    {1, 1, 0xd5, -1, both, true},
    {1, 1, 0xe5, -1, both, true},
    {1, 1, 0xe4, -1, both, true},
    {1, 1, 0xf4, -1, both, true},
    {1, 1, 0xf5, -1, both, true},
    {1, 1, 0xdb, -1, both, true},
    {1, 1, 0xdf, -1, both, true},
    {1, 1, 0xeb, -1, both, true},
    {1, 1, 0xef, -1, both, true},
    {1, 1, 0x74, -1, both, true},
    {1, 1, 0x75, -1, both, true},
    {1, 1, 0x76, -1, both, true},
    {1, 1, 0x64, -1, both, true},
    {1, 1, 0x65, -1, both, true},
    {1, 1, 0x66, -1, both, true},
    {1, 1, 0xee, -1, both, true},
    {1, 1, 0xde, -1, both, true},
    {1, 1, 0xea, -1, both, true},
    {1, 1, 0xda, -1, both, true},
    {1, 1, 0xe0, -1, both, true},
    {1, 1, 0xe3, -1, both, true},
    {1, 1, 0xf6, -1, both, true},
    {1, 1, 0x60, -1, both, true},
    {1, 1, 0x61, -1, both, true},
    {1, 1, 0x62, -1, both, true},
    {1, 1, 0x6c, -1, both, true},
    {1, 1, 0x68, -1, both, true},
    {1, 1, 0x69, -1, both, true},
    {1, 1, 0x6a, -1, both, true},
    {1, 1, 0x6d, -1, both, true},
    {1, 1, 0x63, -1, both, true},
    {1, 1, 0x6b, -1, both, true},
    {1, 1, 0x67, -1, both, true},
    // Shifts by an xmm count (m128) and by an immediate (vvvv is the destination: 0F 71-73).
    {1, 1, 0xd1, -1, both, true, 0, 16},
    {1, 1, 0xd2, -1, both, true, 0, 16},
    {1, 1, 0xd3, -1, both, true, 0, 16},
    {1, 1, 0xe1, -1, both, true, 0, 16},
    {1, 1, 0xe2, -1, both, true, 0, 16},
    {1, 1, 0xf1, -1, both, true, 0, 16},
    {1, 1, 0xf2, -1, both, true, 0, 16},
    {1, 1, 0xf3, -1, both, true, 0, 16},
    {1, 1, 0x70, -1, both, false, 256}, // vpshufd
    {1, 2, 0x70, -1, both, false, 256},
    {1, 3, 0x70, -1, both, false, 256}, // vpshufhw/lw
    // Float arithmetic: ps (no prefix), pd (66); scalars ss (F3), sd (F2) ignore VEX.L.
    {1, 0, 0x58, -1, both, true},
    {1, 1, 0x58, -1, both, true},
    {1, 0, 0x59, -1, both, true},
    {1, 1, 0x59, -1, both, true},
    {1, 0, 0x5c, -1, both, true},
    {1, 1, 0x5c, -1, both, true},
    {1, 0, 0x5e, -1, both, true},
    {1, 1, 0x5e, -1, both, true},
    {1, 0, 0x5f, -1, both, true},
    {1, 1, 0x5f, -1, both, true},
    {1, 0, 0x5d, -1, both, true},
    {1, 1, 0x5d, -1, both, true},
    {1, 0, 0x54, -1, both, true},
    {1, 1, 0x55, -1, both, true},
    {1, 0, 0x56, -1, both, true},
    {1, 1, 0x57, -1, both, true},
    {1, 0, 0x14, -1, both, true},
    {1, 1, 0x15, -1, both, true},
    {1, 3, 0x7c, -1, both, true},
    {1, 1, 0x7c, -1, both, true},
    {1, 3, 0xd0, -1, both, true},
    {1, 1, 0xd0, -1, both, true},
    {1, 0, 0x51, -1, both, false},
    {1, 1, 0x51, -1, both, false},
    {1, 0, 0x52, -1, both, false},
    {1, 0, 0x53, -1, both, false},
    {1, 0, 0xc6, -1, both, true, 256},
    {1, 1, 0xc6, -1, both, true, 16}, // vshufps/pd
    {1, 0, 0xc2, -1, both, true, 32},
    {1, 1, 0xc2, -1, both, true, 32}, // vcmpps/pd
    {1, 2, 0x58, -1, narrow, true, 0, 4},
    {1, 3, 0x58, -1, narrow, true, 0, 8},
    {1, 2, 0x59, -1, narrow, true, 0, 4},
    {1, 3, 0x5e, -1, narrow, true, 0, 8},
    {1, 2, 0x5d, -1, narrow, true, 0, 4},
    {1, 3, 0x5f, -1, narrow, true, 0, 8},
    {1, 2, 0x51, -1, narrow, true, 0, 4},
    {1, 3, 0x51, -1, narrow, true, 0, 8},
    {1, 2, 0xc2, -1, narrow, true, 32, 4},
    {1, 3, 0xc2, -1, narrow, true, 32, 8},
    {1, 2, 0x5a, -1, narrow, true, 0, 4},
    {1, 3, 0x5a, -1, narrow, true, 0, 8},
    // Conversions.
    {1, 0, 0x5b, -1, both, false},
    {1, 1, 0x5b, -1, both, false},
    {1, 2, 0x5b, -1, both, false},
    {1, 0, 0x5a, -1, both, false, 0, -1},
    {1, 2, 0xe6, -1, both, false, 0, -1},
    {1, 1, 0x5a, -1, both, false},
    {1, 1, 0xe6, -1, both, false},
    {1, 3, 0xe6, -1, both, false}, // vcvtpd2dq
    // Moves: loads, stores (the r/m operand is the destination), aligned forms.
    {1, 2, 0x6f, -1, both, false},
    {1, 1, 0x6f, -1, both, false, 0, 0, true},
    {1, 0, 0x10, -1, both, false},
    {1, 0, 0x28, -1, both, false, 0, 0, true},
    {1, 2, 0x7f, -1, both, false},
    {1, 0, 0x11, -1, both, false},
    {1, 3, 0x12, -1, both, false},
    {1, 2, 0x16, -1, both, false}, // vmovddup, vmovshdup
    // 0F 38: byte shuffles, abs, horizontal ops, signs, multiplies, compares, min/max.
    {2, 1, 0x00, -1, both, true},
    {2, 1, 0x1c, -1, both, false},
    {2, 1, 0x1d, -1, both, false},
    {2, 1, 0x1e, -1, both, false},
    {2, 1, 0x04, -1, both, true},
    {2, 1, 0x0b, -1, both, true},
    {2, 1, 0x01, -1, both, true},
    {2, 1, 0x02, -1, both, true},
    {2, 1, 0x03, -1, both, true},
    {2, 1, 0x05, -1, both, true},
    {2, 1, 0x06, -1, both, true},
    {2, 1, 0x07, -1, both, true},
    {2, 1, 0x08, -1, both, true},
    {2, 1, 0x09, -1, both, true},
    {2, 1, 0x0a, -1, both, true},
    {2, 1, 0x28, -1, both, true},
    {2, 1, 0x29, -1, both, true},
    {2, 1, 0x37, -1, both, true},
    {2, 1, 0x2b, -1, both, true},
    {2, 1, 0x38, -1, both, true},
    {2, 1, 0x39, -1, both, true},
    {2, 1, 0x3a, -1, both, true},
    {2, 1, 0x3b, -1, both, true},
    {2, 1, 0x3c, -1, both, true},
    {2, 1, 0x3d, -1, both, true},
    {2, 1, 0x3e, -1, both, true},
    {2, 1, 0x3f, -1, both, true},
    {2, 1, 0x40, -1, both, true},
    // Sign and zero extension (a half, quarter or eighth of the length from memory).
    {2, 1, 0x20, -1, both, false, 0, -1},
    {2, 1, 0x21, -1, both, false, 0, -2},
    {2, 1, 0x22, -1, both, false, 0, -3},
    {2, 1, 0x23, -1, both, false, 0, -1},
    {2, 1, 0x24, -1, both, false, 0, -2},
    {2, 1, 0x25, -1, both, false, 0, -1},
    {2, 1, 0x30, -1, both, false, 0, -1},
    {2, 1, 0x31, -1, both, false, 0, -2},
    {2, 1, 0x32, -1, both, false, 0, -3},
    {2, 1, 0x33, -1, both, false, 0, -1},
    {2, 1, 0x34, -1, both, false, 0, -2},
    {2, 1, 0x35, -1, both, false, 0, -1},
    // vptest, vtestps/pd (flags).
    {2, 1, 0x17, -1, both, false, 0, 0, false, false, true},
    {2, 1, 0x0e, 0, both, false, 0, 0, false, false, true},
    {2, 1, 0x0f, 0, both, false, 0, 0, false, false, true},
    // AVX2 variable shifts, permutes, broadcasts; vpermilps/pd.
    {2, 1, 0x45, 0, both, true},
    {2, 1, 0x45, 1, both, true},
    {2, 1, 0x46, 0, both, true},
    {2, 1, 0x47, 0, both, true},
    {2, 1, 0x47, 1, both, true},
    {2, 1, 0x36, 0, wide, true},
    {2, 1, 0x16, 0, wide, true},
    {2, 1, 0x58, 0, both, false, 0, 4},
    {2, 1, 0x59, 0, both, false, 0, 8},
    {2, 1, 0x78, 0, both, false, 0, 1},
    {2, 1, 0x79, 0, both, false, 0, 2},
    {2, 1, 0x18, 0, both, false, 0, 4},
    {2, 1, 0x19, 0, wide, false, 0, 8},
    {2, 1, 0x0c, 0, both, true},
    {2, 1, 0x0d, 0, both, true},
    // 0F 3A: immediate permutes, blends, inserts, extracts, rounding, dot products.
    {3, 1, 0x00, 1, wide, false, 256},
    {3, 1, 0x01, 1, wide, false, 256},
    {3, 1, 0x02, 0, both, true, 256},
    {3, 1, 0x06, 0, wide, true, 256},
    {3, 1, 0x46, 0, wide, true, 256},
    {3, 1, 0x0c, -1, both, true, 256},
    {3, 1, 0x0d, -1, both, true, 16},
    {3, 1, 0x0e, -1, both, true, 256},
    {3, 1, 0x0f, -1, both, true, 256},
    {3, 1, 0x38, 0, wide, true, 2, 16},
    {3, 1, 0x18, 0, wide, true, 2, 16},
    {3, 1, 0x39, 0, wide, false, 2, 16},
    {3, 1, 0x19, 0, wide, false, 2, 16},
    {3, 1, 0x04, 0, both, false, 256},
    {3, 1, 0x05, 0, both, false, 16},
    {3, 1, 0x08, -1, both, false, 16},
    {3, 1, 0x09, -1, both, false, 16},
    {3, 1, 0x0a, -1, narrow, true, 16, 4},
    {3, 1, 0x0b, -1, narrow, true, 16, 8},
    {3, 1, 0x40, -1, both, true, 256},
    {3, 1, 0x42, -1, both, true, 256},
    {3, 1, 0x4a, 0, both, true, 0, 0, false, true},
    {3, 1, 0x4b, 0, both, true, 0, 0, false, true},
    {3, 1, 0x4c, 0, both, true, 0, 0, false, true},
};

} // namespace

void SequenceGenerator::emit_avx(const AvxVectorForm& form) {
    const bool l = form.lengths == both ? chance(50) : form.lengths == wide;
    const unsigned length = l ? 32 : 16;
    unsigned memory_size = length;
    if (form.memory > 0) memory_size = static_cast<unsigned>(form.memory);
    if (form.memory < 0) memory_size = length >> -form.memory;
    Encoding encoding;
    encoding.rex_w = form.w == 1 || (form.w == -1 && chance(50));
    encoding.opcode = {form.opcode};
    encoding.vex = Vex{form.map, form.pp, l, form.vvvv ? static_cast<unsigned>(random(16)) : 0};
    encoding.reg_field = static_cast<unsigned>(random(16));
    encoding.rm = chance(35)
                      ? memory_operand(memory_size, false, form.aligned ? memory_size : 1)
                      : RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
    if (form.immediate_bound != 0 || form.is4) {
        encoding.immediate_size = 1;
        encoding.immediate = form.is4 ? random(16) << 4 : random(form.immediate_bound);
    }
    emit(encoding);
    if (form.writes_flags) writes_flags(0);
}

void SequenceGenerator::avx_vector() {
    if (chance(4)) {
        // vzeroupper (VEX.128) or vzeroall (VEX.256): C5 F8/FC 77.
        note();
        raw({0xc5, static_cast<std::uint8_t>(chance(70) ? 0xf8 : 0xfc), 0x77});
        return;
    }
    if (chance(8)) {
        // Shifts by an immediate: 66 0F 71 /2 /4 /6, 72 /2 /4 /6, 73 /2 /3 /6 /7 (vvvv is the
        // destination, r/m a register).
        static const std::pair<std::uint8_t, unsigned> shifts[] = {
            {0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4},
            {0x72, 6}, {0x73, 2}, {0x73, 3}, {0x73, 6}, {0x73, 7}};
        const auto& [opcode, extension] = shifts[random(std::size(shifts))];
        Encoding encoding;
        encoding.opcode = {opcode};
        encoding.vex = Vex{1, 1, chance(50), static_cast<unsigned>(random(16))};
        encoding.reg_field = extension;
        encoding.rm = RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
        encoding.immediate_size = 1;
        encoding.immediate = random(chance(70) ? 20 : 256);
        emit(encoding);
        return;
    }
    emit_avx(avx_forms[random(std::size(avx_forms))]);
}

void SequenceGenerator::fma_vector() {
    // VEX.66.0F38 96-9F, A6-AF, B6-BF: fmaddsub, fmsubadd, fmadd, fmsub, fnmadd, fnmsub in the
    // 132/213/231 orders; the odd opcodes from 99 up are the scalar forms (LIG). W: ps/pd.
    const std::uint8_t order = static_cast<std::uint8_t>(0x90 + 0x10 * random(3));
    const std::uint8_t operation = static_cast<std::uint8_t>(6 + random(10));
    const bool scalar = operation >= 9 && (operation & 1);
    const bool double_precision = chance(50);
    AvxVectorForm form{2,
                       1,
                       static_cast<std::uint8_t>(order + operation),
                       double_precision ? 1 : 0,
                       scalar ? narrow : both,
                       true};
    if (scalar) form.memory = double_precision ? 8 : 4;
    emit_avx(form);
}

void SequenceGenerator::f16c_vector() {
    // vcvtph2ps (VEX.66.0F38.W0 13, half the length from memory) and vcvtps2ph (VEX.66.0F3A.W0
    // 1D, r/m destination, imm8 rounding control).
    if (chance(50))
        emit_avx(AvxVectorForm{2, 1, 0x13, 0, both, false, 0, -1});
    else
        emit_avx(AvxVectorForm{3, 1, 0x1d, 0, both, false, 8, -1});
}

} // namespace vessel::difftest
