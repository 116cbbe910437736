// Boot GDT: segment descriptor encoding and writing the table to guest memory.
#include "arch/x86/boot_gdt.hpp"

namespace vessel::x86 {

std::uint64_t encode_segment_descriptor(const SegmentRegister& segment) {
    std::uint64_t limit = segment.granularity ? segment.limit >> 12 : segment.limit;
    std::uint64_t base = segment.base;
    std::uint64_t descriptor = 0;
    descriptor |= limit & 0xffff;                                     // limit 15:0
    descriptor |= (base & 0xff'ffff) << 16;                           // base 23:0
    descriptor |= std::uint64_t{segment.type & 0xfu} << 40;           // type
    descriptor |= std::uint64_t{segment.system ? 0u : 1u} << 44;      // S: code/data
    descriptor |= std::uint64_t{segment.dpl & 3u} << 45;              // DPL
    descriptor |= std::uint64_t{segment.present ? 1u : 0u} << 47;     // P
    descriptor |= ((limit >> 16) & 0xf) << 48;                        // limit 19:16
    descriptor |= std::uint64_t{segment.long_mode ? 1u : 0u} << 53;   // L
    descriptor |= std::uint64_t{segment.default_big ? 1u : 0u} << 54; // D/B
    descriptor |= std::uint64_t{segment.granularity ? 1u : 0u} << 55; // G
    descriptor |= ((base >> 24) & 0xff) << 56;                        // base 31:24
    return descriptor;
}

SegmentRegister boot_tss_segment(std::uint16_t selector, std::uint64_t base) {
    SegmentRegister segment;
    segment.base = base;
    segment.limit = 0x67;
    segment.selector = selector;
    segment.type = tss_busy;
    segment.system = true;
    segment.present = true;
    return segment;
}

SegmentRegister unusable_ldt_segment() {
    SegmentRegister segment;
    segment.base = 0;
    segment.limit = 0;
    segment.selector = 0;
    segment.type = ldt_type;
    segment.system = true;
    segment.present = false;
    segment.unusable = true;
    return segment;
}

Result<DescriptorTable> write_gdt(GuestMemory& memory, std::uint64_t address,
                                  std::span<const std::uint64_t> descriptors) {
    if (descriptors.empty() || descriptors.size() > 8192)
        return make_error("GDT with {} descriptors is not valid", descriptors.size());
    for (std::size_t index = 0; index < descriptors.size(); ++index)
        TRY(memory.write<std::uint64_t>(address + index * 8, descriptors[index]));
    return DescriptorTable{address, static_cast<std::uint16_t>(descriptors.size() * 8 - 1)};
}

} // namespace vessel::x86
