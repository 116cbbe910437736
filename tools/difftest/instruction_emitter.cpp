// InstructionEmitter: x86-64 encoding rules (Intel SDM Vol. 2, 2.1 and 2.2.1).
#include "instruction_emitter.hpp"

namespace vessel::difftest {

namespace {

constexpr std::uint8_t rex_base = 0x40;
constexpr std::uint8_t rex_w_bit = 0x08, rex_r_bit = 0x04, rex_x_bit = 0x02, rex_b_bit = 0x01;
constexpr unsigned sib_follows = 4;    ///< ModRM.rm value that announces a SIB byte
constexpr unsigned no_base_or_rip = 5; ///< ModRM.rm / SIB.base value meaning disp32 (mod 00)
constexpr unsigned no_index = 4;       ///< SIB.index value meaning none

std::uint8_t modrm(unsigned mod, unsigned reg, unsigned rm) {
    return static_cast<std::uint8_t>(mod << 6 | (reg & 7) << 3 | (rm & 7));
}

unsigned scale_bits(unsigned scale) {
    return scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0;
}

bool fits_int8(std::int64_t value) {
    return value >= -128 && value <= 127;
}

} // namespace

void InstructionEmitter::immediate(unsigned size, std::uint64_t value) {
    for (unsigned i = 0; i < size; ++i)
        m_code.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

void InstructionEmitter::emit(const Encoding& encoding) {
    const RegisterOrMemory& rm = encoding.rm;
    m_code.insert(m_code.end(), encoding.prefixes.begin(), encoding.prefixes.end());
    std::uint8_t rex = 0;
    if (encoding.rex_w) rex |= rex_w_bit;
    if (encoding.reg_field & 8) rex |= rex_r_bit;
    if (!rm.is_memory && (rm.reg & 8)) rex |= rex_b_bit;
    if (rm.is_memory && rm.base && (*rm.base & 8)) rex |= rex_b_bit;
    if (rm.is_memory && rm.index && (*rm.index & 8)) rex |= rex_x_bit;
    if (encoding.vex) {
        // C4, then inverted R X B with the map, then W, inverted vvvv, L and pp.
        const Vex& vex = *encoding.vex;
        m_code.push_back(0xc4);
        m_code.push_back(static_cast<std::uint8_t>(((rex & rex_r_bit) ? 0 : 0x80) |
                                                   ((rex & rex_x_bit) ? 0 : 0x40) |
                                                   ((rex & rex_b_bit) ? 0 : 0x20) | vex.map));
        m_code.push_back(static_cast<std::uint8_t>((encoding.rex_w ? 0x80 : 0) |
                                                   ((~vex.vvvv & 15) << 3) | (vex.l ? 4 : 0) |
                                                   (vex.pp & 3)));
    } else if (rex != 0 || encoding.force_rex) {
        m_code.push_back(rex_base | rex);
    }
    m_code.insert(m_code.end(), encoding.opcode.begin(), encoding.opcode.end());

    std::size_t displacement_offset = 0;
    if (!rm.is_memory) {
        m_code.push_back(modrm(3, encoding.reg_field, rm.reg));
    } else if (rm.rip_relative) {
        m_code.push_back(modrm(0, encoding.reg_field, no_base_or_rip));
        displacement_offset = m_code.size();
        immediate(4, 0); // patched once the instruction's end is known
    } else if (!rm.base) {
        // No base: SIB with base 101 and mod 00 means [index * scale + disp32].
        m_code.push_back(modrm(0, encoding.reg_field, sib_follows));
        const unsigned index = rm.index ? *rm.index : no_index;
        m_code.push_back(static_cast<std::uint8_t>(scale_bits(rm.scale) << 6 | (index & 7) << 3 |
                                                   no_base_or_rip));
        immediate(4, static_cast<std::uint64_t>(rm.displacement));
    } else {
        const unsigned base = *rm.base;
        // mod 00 with base 101 (rbp/r13) means something else: give those a zero disp8.
        const unsigned mod = rm.displacement == 0 && (base & 7) != no_base_or_rip ? 0
                             : fits_int8(rm.displacement)                         ? 1
                                                                                  : 2;
        const bool sib = rm.index.has_value() || (base & 7) == sib_follows;
        m_code.push_back(modrm(mod, encoding.reg_field, sib ? sib_follows : base));
        if (sib) {
            const unsigned index = rm.index ? *rm.index : no_index;
            m_code.push_back(static_cast<std::uint8_t>(scale_bits(rm.scale) << 6 |
                                                       (index & 7) << 3 | (base & 7)));
        }
        if (mod == 1) immediate(1, static_cast<std::uint64_t>(rm.displacement));
        if (mod == 2) immediate(4, static_cast<std::uint64_t>(rm.displacement));
    }
    immediate(encoding.immediate_size, encoding.immediate);
    if (displacement_offset != 0) {
        const std::int64_t relative =
            rm.displacement - static_cast<std::int64_t>(m_code_address + m_code.size());
        for (unsigned i = 0; i < 4; ++i)
            m_code[displacement_offset + i] = static_cast<std::uint8_t>(relative >> (8 * i));
    }
}

void InstructionEmitter::emit_register_in_opcode(std::initializer_list<std::uint8_t> prefixes,
                                                 bool rex_w, std::uint8_t opcode, unsigned reg,
                                                 unsigned immediate_size, std::uint64_t value,
                                                 bool force_rex) {
    m_code.insert(m_code.end(), prefixes.begin(), prefixes.end());
    std::uint8_t rex = 0;
    if (rex_w) rex |= rex_w_bit;
    if (reg & 8) rex |= rex_b_bit;
    if (rex != 0 || force_rex) m_code.push_back(rex_base | rex);
    m_code.push_back(static_cast<std::uint8_t>(opcode + (reg & 7)));
    immediate(immediate_size, value);
}

} // namespace vessel::difftest
