// SequenceGenerator: the MMX family (mm registers: MMX, the SSE/SSE2 mm forms and conversions,
// SSSE3's), on registers it loads first (an mm register's start value is the host process's x87
// state natively and zero in the engine), with results stored to general registers or memory,
// which the comparison covers.
#include "sequence_generator.hpp"

namespace vessel::difftest {

namespace {

/// NP 0F xx mm, mm/m64 (punpckl*: mm/m32).
const std::uint8_t mmx_opcodes[] = {
    0xfc, 0xfd, 0xfe, 0xd4, 0xf8, 0xf9, 0xfa, 0xfb, // padd b w d q, psub b w d q
    0xec, 0xed, 0xdc, 0xdd, 0xe8, 0xe9, 0xd8, 0xd9, // padds/paddus/psubs/psubus b w
    0xdb, 0xdf, 0xeb, 0xef,                         // pand pandn por pxor
    0x74, 0x75, 0x76, 0x64, 0x65, 0x66,             // pcmpeq b w d, pcmpgt b w d
    0xd5, 0xe5, 0xe4, 0xf4, 0xf5,                   // pmullw pmulhw pmulhuw pmuludq pmaddwd
    0xe0, 0xe3, 0xee, 0xde, 0xea, 0xda, 0xf6, // pavgb pavgw pmaxsw pmaxub pminsw pminub psadbw
    0x63, 0x6b, 0x67,                         // packsswb packssdw packuswb
    0x60, 0x61, 0x62, 0x68, 0x69, 0x6a,       // punpckl bw wd dq, punpckh bw wd dq
    0xf1, 0xf2, 0xf3, 0xd1, 0xd2, 0xd3, 0xe1, 0xe2, // psll/psrl w d q, psra w d (by mm/m64)
};

/// NP 0F 38 xx mm, mm/m64 (SSSE3).
const std::uint8_t ssse3_opcodes[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                      0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e};

Encoding mmx_encoding(std::initializer_list<std::uint8_t> opcode, unsigned reg) {
    Encoding encoding;
    encoding.opcode = opcode;
    encoding.reg_field = reg;
    return encoding;
}

} // namespace

void SequenceGenerator::load_mm(unsigned reg) {
    Encoding encoding;
    switch (random(4)) {
    case 0: // movq mm, r/m64 (REX.W 0F 6E)
        encoding = mmx_encoding({0x0f, 0x6e}, reg);
        encoding.rex_w = true;
        encoding.rm = source(8, false);
        break;
    case 1: // movd mm, r/m32
        encoding = mmx_encoding({0x0f, 0x6e}, reg);
        encoding.rm = source(4, false);
        break;
    default: // movq mm, m64 (0F 6F)
        encoding = mmx_encoding({0x0f, 0x6f}, reg);
        encoding.rm = memory_operand(8, false);
        break;
    }
    emit(encoding);
}

void SequenceGenerator::store_mm(unsigned reg) {
    Encoding encoding;
    switch (random(5)) {
    case 0: // movq r/m64, mm (REX.W 0F 7E)
        encoding = mmx_encoding({0x0f, 0x7e}, reg);
        encoding.rex_w = true;
        encoding.rm = destination(8, false);
        break;
    case 1: // movd r/m32, mm
        encoding = mmx_encoding({0x0f, 0x7e}, reg);
        encoding.rm = destination(4, false);
        break;
    case 2: // movntq m64, mm
        encoding = mmx_encoding({0x0f, 0xe7}, reg);
        encoding.rm = memory_operand(8, false);
        break;
    case 3: // movq2dq xmm, mm
        encoding = mmx_encoding({0x0f, 0xd6}, static_cast<unsigned>(random(16)));
        encoding.prefixes = {0xf3};
        encoding.rm = RegisterOrMemory::register_operand(reg);
        break;
    default: // movq m64, mm (0F 7F)
        encoding = mmx_encoding({0x0f, 0x7f}, reg);
        encoding.rm = memory_operand(8, false);
        break;
    }
    emit(encoding);
}

void SequenceGenerator::mmx_vector() {
    const auto destination_mm = static_cast<unsigned>(random(8));
    const auto source_mm = static_cast<unsigned>(random(8));
    load_mm(destination_mm);
    if (source_mm != destination_mm) load_mm(source_mm);
    const RegisterOrMemory source_operand = RegisterOrMemory::register_operand(source_mm);
    const std::uint64_t kind = random(23);
    if (kind < 10) {
        const std::uint8_t opcode = mmx_opcodes[random(std::size(mmx_opcodes))];
        Encoding encoding = mmx_encoding({0x0f, opcode}, destination_mm);
        const bool low_unpack = opcode >= 0x60 && opcode <= 0x62;
        encoding.rm = chance(30) ? memory_operand(low_unpack ? 4 : 8, false) : source_operand;
        emit(encoding);
    } else if (kind < 12) {
        // Shifts by imm8: 0F 71/72/73 /2 srl, /4 sra (not q), /6 sll.
        static const std::pair<std::uint8_t, unsigned> shifts[] = {
            {0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4}, {0x72, 6}, {0x73, 2}, {0x73, 6}};
        const auto& [opcode, extension] = shifts[random(std::size(shifts))];
        Encoding encoding = mmx_encoding({0x0f, opcode}, extension);
        encoding.rm = RegisterOrMemory::register_operand(destination_mm);
        encoding.immediate_size = 1;
        encoding.immediate = chance(70) ? random(70) : random(256);
        emit(encoding);
    } else if (kind < 15 && host_has("ssse3")) {
        const bool align = chance(15);
        Encoding encoding =
            align ? mmx_encoding({0x0f, 0x3a, 0x0f}, destination_mm)
                  : mmx_encoding({0x0f, 0x38, ssse3_opcodes[random(std::size(ssse3_opcodes))]},
                                 destination_mm);
        encoding.rm = chance(30) ? memory_operand(8, false) : source_operand;
        if (align) {
            encoding.immediate_size = 1;
            encoding.immediate = chance(80) ? random(20) : random(256);
        }
        emit(encoding);
    } else if (kind < 16) { // pshufw mm, mm/m64, imm8
        Encoding encoding = mmx_encoding({0x0f, 0x70}, destination_mm);
        encoding.rm = chance(30) ? memory_operand(8, false) : source_operand;
        encoding.immediate_size = 1;
        encoding.immediate = random(256);
        emit(encoding);
    } else if (kind < 17) { // pinsrw mm, r32/m16, imm8
        Encoding encoding = mmx_encoding({0x0f, 0xc4}, destination_mm);
        encoding.rm = source(chance(50) ? 2 : 4, false);
        if (!encoding.rm.is_memory)
            encoding.rm = RegisterOrMemory::register_operand(source_register(4, false));
        encoding.immediate_size = 1;
        encoding.immediate = random(256);
        emit(encoding);
    } else if (kind < 18) { // pextrw r32, mm, imm8 / pmovmskb r32, mm
        const bool extract = chance(50);
        Encoding encoding = mmx_encoding({0x0f, static_cast<std::uint8_t>(extract ? 0xc5 : 0xd7)},
                                         destination_register(4, false));
        encoding.rex_w = chance(30);
        encoding.rm = RegisterOrMemory::register_operand(source_mm);
        if (extract) {
            encoding.immediate_size = 1;
            encoding.immediate = random(256);
        }
        emit(encoding);
        return;
    } else if (kind >= 20) {
        // Conversions: cvtpi2ps / cvtpi2pd xmm, mm/m64 (NP / 66 0F 2A); cvt(t)ps2pi mm, xmm/m64
        // (NP 0F 2D / 2C), cvt(t)pd2pi mm, xmm/m128 (66 0F 2D / 2C).
        const bool is_double = chance(50);
        const std::uint64_t form = random(3);
        const std::uint8_t opcode = form == 0 ? 0x2a : form == 1 ? 0x2d : 0x2c;
        Encoding encoding = mmx_encoding({0x0f, opcode}, destination_mm);
        if (is_double) encoding.prefixes = {0x66};
        if (form == 0) {
            encoding.reg_field = static_cast<unsigned>(random(16));
            encoding.rm = chance(30) ? memory_operand(8, false) : source_operand;
            emit(encoding);
            if (chance(30)) raw({0x0f, 0x77}); // emms
            return;
        }
        encoding.rm = chance(30)
                          ? memory_operand(is_double ? 16 : 8, false, is_double ? 16 : 1)
                          : RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
        emit(encoding);
    } else { // movdq2q mm, xmm
        Encoding encoding = mmx_encoding({0x0f, 0xd6}, destination_mm);
        encoding.prefixes = {0xf2};
        encoding.rm = RegisterOrMemory::register_operand(static_cast<unsigned>(random(16)));
        emit(encoding);
    }
    store_mm(destination_mm);
    if (chance(30)) raw({0x0f, 0x77}); // emms
}

} // namespace vessel::difftest
