// Decoding of segment and gate descriptors (Intel SDM Vol. 3, 3.4.5 and 6.14.1).
#include "arch/x86/descriptors.hpp"

namespace vessel::x86 {

namespace {
// Fields of a descriptor's high dword (bits 32-63 of the 8-byte entry).
constexpr unsigned type_shift = 8;                ///< type, bits 8-11
constexpr std::uint32_t descriptor_s = 1u << 12;  ///< S: code or data, not system
constexpr unsigned dpl_shift = 13;                ///< DPL, bits 13-14
constexpr std::uint32_t descriptor_p = 1u << 15;  ///< present
constexpr std::uint32_t descriptor_l = 1u << 21;  ///< 64-bit code segment
constexpr std::uint32_t descriptor_db = 1u << 22; ///< default operation size / big
constexpr std::uint32_t descriptor_g = 1u << 23;  ///< limit in 4 KiB units
constexpr std::uint32_t base_bits_16_23 = 0x0000'00ff;
constexpr std::uint32_t base_bits_24_31 = 0xff00'0000;
constexpr std::uint32_t limit_bits_16_19 = 0x000f'0000;
} // namespace

SegmentRegister decode_segment_descriptor(std::uint64_t raw, std::uint16_t selector_value) {
    const auto low = static_cast<std::uint32_t>(raw), high = static_cast<std::uint32_t>(raw >> 32);
    SegmentRegister segment;
    segment.selector = selector_value;
    segment.base = (low >> 16) | ((high & base_bits_16_23) << 16) | (high & base_bits_24_31);
    segment.limit = (low & 0xffff) | (high & limit_bits_16_19);
    segment.type = (high >> type_shift) & 0xf;
    segment.system = (high & descriptor_s) == 0;
    segment.dpl = (high >> dpl_shift) & 3;
    segment.present = (high & descriptor_p) != 0;
    segment.long_mode = (high & descriptor_l) != 0;
    segment.default_big = (high & descriptor_db) != 0;
    segment.granularity = (high & descriptor_g) != 0;
    if (segment.granularity) segment.limit = (segment.limit << 12) | 0xfff;
    segment.unusable = false;
    return segment;
}

GateDescriptor decode_gate_descriptor(std::uint64_t low, std::uint64_t high, bool long_mode) {
    const auto high_dword = static_cast<std::uint32_t>(low >> 32);
    GateDescriptor gate;
    gate.type = (high_dword >> type_shift) & 0xf;
    gate.dpl = (high_dword >> dpl_shift) & 3;
    gate.present = (high_dword & descriptor_p) != 0;
    gate.selector = static_cast<std::uint16_t>(low >> 16);
    // Offset bits 0-15 in the low dword, 16-31 in the high dword, 32-63 in the second quadword.
    gate.offset = (low & 0xffff) | (high_dword & 0xffff'0000);
    if (long_mode) gate.offset |= high << 32;
    gate.ist = long_mode ? high_dword & 7 : 0;
    return gate;
}

} // namespace vessel::x86
