// CpuCore segment loads: descriptor lookup in the GDT/LDT and the checks of mov/pop to a segment
// register and of far transfers (Intel SDM Vol. 3, 3.4 and 5.5-5.8).
#include "engine/soft/cpu_core.hpp"

namespace vessel::soft {

std::uint64_t CpuCore::descriptor_address(std::uint16_t selector, std::uint8_t error_vector) {
    const bool local = selector & x86::selector::table_local;
    const std::uint64_t base = local ? ldt.base : gdt.base;
    const std::uint32_t limit = local ? ldt.limit : gdt.limit;
    const std::uint32_t offset = selector & x86::selector::index_mask;
    if ((local && ldt.unusable) || offset + 7 > limit)
        raise(error_vector, x86::selector::error_code(selector));
    return base + offset;
}

x86::SegmentRegister CpuCore::read_descriptor(std::uint16_t selector, std::uint8_t error_vector) {
    const std::uint64_t address = descriptor_address(selector, error_vector);
    x86::SegmentRegister segment =
        x86::decode_segment_descriptor(read_system<8>(address), selector);
    if (segment.system && long_mode_active() && x86::is_wide_system_descriptor(segment.type))
        segment.base |= read_system<8>(address + 8) << 32; // 16-byte LDT/TSS descriptors
    return segment;
}

void CpuCore::load_segment(unsigned segment, std::uint16_t selector) {
    x86::SegmentRegister& target = segments[segment];
    if (!protected_mode() || (rflags & x86::rflags::vm)) {
        target.selector = selector;
        target.base = std::uint64_t{selector} << 4;
        target.unusable = false;
        target.present = true;
        if (rflags & x86::rflags::vm) target.limit = 0xffff;
        update_mode();
        return;
    }
    if (x86::selector::is_null(selector)) {
        if (segment == ss && (mode != CpuMode::Long64 || cpl == 3))
            raise(x86::vector::general_protection, 0);
        target = x86::SegmentRegister{};
        target.selector = selector;
        target.unusable = true;
        target.present = false;
        if (segment == ss) target.dpl = cpl;
        update_mode();
        return;
    }
    x86::SegmentRegister loaded = read_descriptor(selector, x86::vector::general_protection);
    const bool code = loaded.type & x86::segment_type::code,
               readable_or_writable = loaded.type & x86::segment_type::readable_or_writable;
    if (loaded.system || (segment == ss && (code || !readable_or_writable)) ||
        (segment != ss && code && !readable_or_writable))
        raise(x86::vector::general_protection, x86::selector::error_code(selector));
    if (!loaded.present)
        raise(segment == ss ? x86::vector::stack_fault : x86::vector::segment_not_present,
              x86::selector::error_code(selector));
    target = loaded;
    update_mode();
}

void CpuCore::load_code_segment(std::uint16_t selector, unsigned new_cpl) {
    x86::SegmentRegister& target = segments[cs];
    if (!protected_mode() || (rflags & x86::rflags::vm)) {
        target.selector = selector;
        target.base = std::uint64_t{selector} << 4;
        update_mode();
        return;
    }
    if (x86::selector::is_null(selector)) raise(x86::vector::general_protection, 0);
    x86::SegmentRegister loaded = read_descriptor(selector, x86::vector::general_protection);
    if (loaded.system || !(loaded.type & x86::segment_type::code))
        raise(x86::vector::general_protection, x86::selector::error_code(selector));
    if (!loaded.present)
        raise(x86::vector::segment_not_present, x86::selector::error_code(selector));
    loaded.selector = static_cast<std::uint16_t>((x86::selector::error_code(selector)) | new_cpl);
    target = loaded;
    update_mode();
}

} // namespace vessel::soft
