// SequenceGenerator: SSE/SSE2 families (moves, packed integer, shifts and shuffles, float
// arithmetic, conversions), limited to what the engine's CPUID advertises (sse, sse2).
#include "sequence_generator.hpp"

namespace vessel::difftest {

namespace {

enum class Shape : std::uint8_t {
    Load,          ///< xmm, xmm/m
    Store,         ///< xmm/m, xmm
    LoadMemory,    ///< xmm, m only
    StoreMemory,   ///< m, xmm only
    RegistersOnly, ///< xmm, xmm only
};

/// One SSE instruction form: mandatory prefix (0 for none), 0F xx opcode, memory operand size
/// and alignment, and whether an imm8 follows.
struct XmmForm {
    std::uint8_t prefix;
    std::uint8_t opcode;
    unsigned memory_size;
    unsigned alignment;
    Shape shape{Shape::Load};
    bool immediate{false};
};

constexpr unsigned any = 1, aligned = 16;

const XmmForm move_forms[] = {
    {0x00, 0x28, 16, aligned},                     // movaps
    {0x00, 0x29, 16, aligned, Shape::Store},       // movaps
    {0x66, 0x28, 16, aligned},                     // movapd
    {0x66, 0x29, 16, aligned, Shape::Store},       // movapd
    {0x66, 0x6f, 16, aligned},                     // movdqa
    {0x66, 0x7f, 16, aligned, Shape::Store},       // movdqa
    {0x00, 0x10, 16, any},                         // movups
    {0x00, 0x11, 16, any, Shape::Store},           // movups
    {0x66, 0x10, 16, any},                         // movupd
    {0x66, 0x11, 16, any, Shape::Store},           // movupd
    {0xf3, 0x6f, 16, any},                         // movdqu
    {0xf3, 0x7f, 16, any, Shape::Store},           // movdqu
    {0xf3, 0x10, 4, any},                          // movss
    {0xf3, 0x11, 4, any, Shape::Store},            // movss
    {0xf2, 0x10, 8, any},                          // movsd
    {0xf2, 0x11, 8, any, Shape::Store},            // movsd
    {0xf3, 0x7e, 8, any},                          // movq xmm, xmm/m64
    {0x66, 0xd6, 8, any, Shape::Store},            // movq xmm/m64, xmm
    {0x00, 0x12, 16, any, Shape::RegistersOnly},   // movhlps
    {0x00, 0x16, 16, any, Shape::RegistersOnly},   // movlhps
    {0x00, 0x12, 8, any, Shape::LoadMemory},       // movlps
    {0x00, 0x13, 8, any, Shape::StoreMemory},      // movlps
    {0x00, 0x16, 8, any, Shape::LoadMemory},       // movhps
    {0x00, 0x17, 8, any, Shape::StoreMemory},      // movhps
    {0x66, 0x12, 8, any, Shape::LoadMemory},       // movlpd
    {0x66, 0x13, 8, any, Shape::StoreMemory},      // movlpd
    {0x66, 0x16, 8, any, Shape::LoadMemory},       // movhpd
    {0x66, 0x17, 8, any, Shape::StoreMemory},      // movhpd
    {0x66, 0xe7, 16, aligned, Shape::StoreMemory}, // movntdq
    {0x00, 0x2b, 16, aligned, Shape::StoreMemory}, // movntps
    {0x66, 0x2b, 16, aligned, Shape::StoreMemory}, // movntpd
};

/// 66 0F xx xmm, xmm/m128 packed integer operations.
const std::uint8_t integer_opcodes[] = {
    0xfc, 0xfd, 0xfe, 0xd4, 0xf8, 0xf9, 0xfa, 0xfb, // padd b w d q, psub b w d q
    0xec, 0xed, 0xdc, 0xdd, 0xe8, 0xe9, 0xd8, 0xd9, // padds/paddus/psubs/psubus b w
    0xdb, 0xdf, 0xeb, 0xef,                         // pand pandn por pxor
    0x74, 0x75, 0x76, 0x64, 0x65, 0x66,             // pcmpeq b w d, pcmpgt b w d
    0xd5, 0xe5, 0xe4, 0xf4, 0xf5,                   // pmullw pmulhw pmulhuw pmuludq pmaddwd
    0xe0, 0xe3, 0xee, 0xde, 0xea, 0xda, 0xf6, // pavgb pavgw pmaxsw pmaxub pminsw pminub psadbw
    0x63, 0x6b, 0x67,                         // packsswb packssdw packuswb
    0x60, 0x61, 0x62, 0x6c, 0x68, 0x69, 0x6a, 0x6d, // punpckl bw wd dq qdq, punpckh ...
    0xf1, 0xf2, 0xf3, 0xd1, 0xd2, 0xd3, 0xe1, 0xe2, // psll/psrl w d q, psra w d (by xmm/m128)
};

const XmmForm shuffle_forms[] = {
    {0x66, 0x70, 16, aligned, Shape::Load, true}, // pshufd
    {0xf3, 0x70, 16, aligned, Shape::Load, true}, // pshufhw
    {0xf2, 0x70, 16, aligned, Shape::Load, true}, // pshuflw
    {0x00, 0xc6, 16, aligned, Shape::Load, true}, // shufps
    {0x66, 0xc6, 16, aligned, Shape::Load, true}, // shufpd
    {0x00, 0x14, 16, aligned},                    // unpcklps
    {0x00, 0x15, 16, aligned},                    // unpckhps
    {0x66, 0x14, 16, aligned},                    // unpcklpd
    {0x66, 0x15, 16, aligned},                    // unpckhpd
};

const XmmForm convert_forms[] = {
    {0xf3, 0x5a, 4, any},      // cvtss2sd
    {0xf2, 0x5a, 8, any},      // cvtsd2ss
    {0x00, 0x5a, 8, any},      // cvtps2pd
    {0x66, 0x5a, 16, aligned}, // cvtpd2ps
    {0x00, 0x5b, 16, aligned}, // cvtdq2ps
    {0x66, 0x5b, 16, aligned}, // cvtps2dq
    {0xf3, 0x5b, 16, aligned}, // cvttps2dq
    {0xf3, 0xe6, 8, any},      // cvtdq2pd
    {0x66, 0xe6, 16, aligned}, // cvttpd2dq
    {0xf2, 0xe6, 16, aligned}, // cvtpd2dq
};

} // namespace

namespace {

Encoding xmm_encoding(const XmmForm& form) {
    Encoding encoding;
    if (form.prefix != 0) encoding.prefixes.push_back(form.prefix);
    encoding.opcode = {0x0f, form.opcode};
    return encoding;
}

} // namespace

void SequenceGenerator::sse_move() {
    if (chance(25)) {
        // GPR <-> xmm: movd/movq (66 [W] 0F 6E / 7E), movmskps/pd, pmovmskb, pextrw, pinsrw,
        // movnti.
        const bool wide = chance(50);
        Encoding encoding;
        switch (random(7)) {
        case 0:
            encoding = xmm_encoding({0x66, 0x6e, 0, 0});
            encoding.rex_w = wide;
            encoding.reg_field = static_cast<unsigned>(random(16));
            encoding.rm = source(wide ? 8 : 4, false);
            break;
        case 1:
            encoding = xmm_encoding({0x66, 0x7e, 0, 0});
            encoding.rex_w = wide;
            encoding.reg_field = static_cast<unsigned>(random(16));
            encoding.rm = destination(wide ? 8 : 4, false);
            break;
        case 2:
        case 3: {
            static const XmmForm masks[] = {
                {0x00, 0x50, 0, 0}, {0x66, 0x50, 0, 0}, {0x66, 0xd7, 0, 0}};
            encoding = xmm_encoding(masks[random(3)]);
            encoding.reg_field = destination_register(4, false);
            encoding.rm = RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
            break;
        }
        case 4:
            encoding = xmm_encoding({0x66, 0xc5, 0, 0}); // pextrw r32, xmm, imm8
            encoding.reg_field = destination_register(4, false);
            encoding.rm = RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
            encoding.immediate_size = 1;
            encoding.immediate = random(256);
            break;
        case 5:
            encoding = xmm_encoding({0x66, 0xc4, 0, 0}); // pinsrw xmm, r32/m16, imm8
            encoding.reg_field = static_cast<unsigned>(random(16));
            encoding.rm = source(2, false);
            encoding.immediate_size = 1;
            encoding.immediate = random(256);
            break;
        default:
            encoding = xmm_encoding({0x00, 0xc3, 0, 0}); // movnti m32/m64, r
            encoding.rex_w = wide;
            encoding.reg_field = source_register(8, false);
            encoding.rm = memory_operand(wide ? 8 : 4, false);
            break;
        }
        emit(encoding);
        return;
    }
    const XmmForm& form = move_forms[random(std::size(move_forms))];
    Encoding encoding = xmm_encoding(form);
    encoding.reg_field = static_cast<unsigned>(random(16));
    const bool memory = form.shape == Shape::LoadMemory || form.shape == Shape::StoreMemory ||
                        (form.shape != Shape::RegistersOnly && chance(40));
    encoding.rm = memory ? memory_operand(form.memory_size, false, form.alignment)
                         : RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
    emit(encoding);
}

void SequenceGenerator::sse_integer() {
    const XmmForm form{0x66, integer_opcodes[random(std::size(integer_opcodes))], 16, aligned};
    Encoding encoding = xmm_encoding(form);
    encoding.reg_field = static_cast<unsigned>(random(16));
    encoding.rm = chance(30)
                      ? memory_operand(16, false, aligned)
                      : RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
    emit(encoding);
}

void SequenceGenerator::sse_shift_shuffle() {
    if (chance(40)) {
        // Shifts by imm8: 66 0F 71/72/73 /2 srl /4 sra /6 sll, 73 /3 psrldq /7 pslldq.
        static const std::pair<std::uint8_t, unsigned> shifts[] = {
            {0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4},
            {0x72, 6}, {0x73, 2}, {0x73, 3}, {0x73, 6}, {0x73, 7}};
        const auto& [opcode, extension] = shifts[random(std::size(shifts))];
        Encoding encoding = xmm_encoding({0x66, opcode, 0, 0});
        encoding.reg_field = extension;
        encoding.rm = RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
        encoding.immediate_size = 1;
        encoding.immediate = chance(70) ? random(20) : random(256);
        emit(encoding);
        return;
    }
    const XmmForm& form = shuffle_forms[random(std::size(shuffle_forms))];
    Encoding encoding = xmm_encoding(form);
    encoding.reg_field = static_cast<unsigned>(random(16));
    encoding.rm = chance(30)
                      ? memory_operand(form.memory_size, false, form.alignment)
                      : RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
    if (form.immediate) {
        encoding.immediate_size = 1;
        encoding.immediate = random(256);
    }
    emit(encoding);
}

void SequenceGenerator::sse_float() {
    // ps (none, m128), pd (66, m128), ss (F3, m32), sd (F2, m64).
    static const std::uint8_t prefixes[] = {0x00, 0x66, 0xf3, 0xf2};
    static const unsigned memory_sizes[] = {16, 16, 4, 8};
    const auto type = static_cast<unsigned>(random(4));
    const std::uint64_t kind = random(10);
    if (kind == 0) {
        // comiss/ucomiss (0F 2F/2E), comisd/ucomisd (66): ZF PF CF, OF SF AF cleared.
        const bool is_double = chance(50);
        Encoding encoding =
            xmm_encoding({static_cast<std::uint8_t>(is_double ? 0x66 : 0),
                          static_cast<std::uint8_t>(chance(50) ? 0x2f : 0x2e), 0, 0});
        encoding.reg_field = static_cast<unsigned>(random(16));
        encoding.rm = chance(30)
                          ? memory_operand(is_double ? 8 : 4, false)
                          : RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
        emit(encoding);
        writes_flags(0);
        return;
    }
    if (kind == 1) {
        // ldmxcsr from memory: rounding mode, FTZ, DAZ, sticky flags; exceptions stay masked.
        const std::uint64_t value = 0x1f80 | (random(4) << 13) | (chance(20) ? 0x8000 : 0) |
                                    (chance(20) ? 0x40 : 0) | random(64);
        const RegisterOrMemory slot = memory_operand(4, false);
        Encoding store = sized(4, {0xc7}, false);
        store.rm = slot;
        store.immediate_size = 4;
        store.immediate = value;
        emit(store);
        Encoding load;
        load.opcode = {0x0f, 0xae};
        load.reg_field = 2;
        load.rm = slot;
        emit(load);
        return;
    }
    if (kind == 2) {
        Encoding store; // stmxcsr m32 (0F AE /3)
        store.opcode = {0x0f, 0xae};
        store.reg_field = 3;
        store.rm = memory_operand(4, false);
        emit(store);
        return;
    }
    static const std::uint8_t arithmetic[] = {0x51, 0x58, 0x59, 0x5c, 0x5d, 0x5e,
                                              0x5f, 0xc2, 0x54, 0x55, 0x56, 0x57};
    const std::uint8_t opcode = arithmetic[random(type < 2 ? 12 : 8)]; // logic ops: packed only
    Encoding encoding = xmm_encoding({prefixes[type], opcode, 0, 0});
    encoding.reg_field = static_cast<unsigned>(random(16));
    encoding.rm =
        chance(30)
            ? memory_operand(memory_sizes[type], false, memory_sizes[type] == 16 ? aligned : any)
            : RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
    if (opcode == 0xc2) { // cmpps predicate 0-7
        encoding.immediate_size = 1;
        encoding.immediate = random(8);
    }
    emit(encoding);
}

void SequenceGenerator::sse_convert() {
    if (chance(40)) {
        const bool wide = chance(50), is_double = chance(50);
        const std::uint8_t prefix = is_double ? 0xf2 : 0xf3;
        Encoding encoding;
        if (chance(40)) { // cvtsi2ss/sd xmm, r/m32/64
            encoding = xmm_encoding({prefix, 0x2a, 0, 0});
            encoding.reg_field = static_cast<unsigned>(random(16));
            encoding.rm = source(wide ? 8 : 4, false);
        } else { // cvt(t)ss2si / cvt(t)sd2si r32/64, xmm/m
            encoding =
                xmm_encoding({prefix, static_cast<std::uint8_t>(chance(50) ? 0x2c : 0x2d), 0, 0});
            encoding.reg_field = destination_register(wide ? 8 : 4, false);
            encoding.rm =
                chance(30) ? memory_operand(is_double ? 8 : 4, false)
                           : RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
        }
        encoding.rex_w = wide;
        emit(encoding);
        return;
    }
    const XmmForm& form = convert_forms[random(std::size(convert_forms))];
    Encoding encoding = xmm_encoding(form);
    encoding.reg_field = static_cast<unsigned>(random(16));
    encoding.rm = chance(30)
                      ? memory_operand(form.memory_size, false, form.alignment)
                      : RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
    emit(encoding);
}

} // namespace vessel::difftest
