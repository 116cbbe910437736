// ElfImage: bounds-checked ELF32/ELF64 header and program-header parsing.
#include "arch/x86/elf_image.hpp"

#include "arch/x86/image_bytes.hpp"

namespace vessel::x86 {

namespace {

// ELF identification and header constants (System V gABI, "ELF Header").
constexpr std::uint8_t elf_class_32 = 1; // e_ident[EI_CLASS]
constexpr std::uint8_t elf_class_64 = 2;
constexpr std::uint8_t elf_data_lsb = 1;                 // e_ident[EI_DATA]: little-endian
constexpr std::uint16_t elf_type_exec = 2;               // ET_EXEC
constexpr std::uint16_t elf_type_dyn = 3;                // ET_DYN
constexpr std::uint16_t elf_machine_386 = 3;             // EM_386
constexpr std::uint16_t elf_machine_x86_64 = 62;         // EM_X86_64
constexpr std::uint32_t program_type_load = 1;           // PT_LOAD
constexpr std::uint16_t program_count_extended = 0xffff; // PN_XNUM

/// Where the fields we need sit in each class of header.
struct ElfLayout {
    std::uint64_t header_size;
    std::uint64_t entry, program_offset, program_entry_size, program_count; // in the ELF header
    std::uint64_t program_header_size;
    std::uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz; // in a program header
    std::uint64_t word_size;                                     // 4 or 8
};
constexpr ElfLayout elf32_layout{52, 24, 28, 42, 44, 32, 4, 8, 12, 16, 20, 4};
constexpr ElfLayout elf64_layout{64, 24, 32, 54, 56, 56, 8, 16, 24, 32, 40, 8};

/// Reads an address-sized field (u32 in ELF32, u64 in ELF64); the caller checked the bounds.
std::uint64_t read_word(std::span<const std::uint8_t> image, std::uint64_t offset,
                        const ElfLayout& layout) {
    if (layout.word_size == 4) return read_le<std::uint32_t>(image, offset).value_or(0);
    return read_le<std::uint64_t>(image, offset).value_or(0);
}

Result<ElfSegment> parse_program_header(std::span<const std::uint8_t> image, std::uint64_t header,
                                        std::uint32_t index, const ElfLayout& layout) {
    ElfSegment segment{};
    segment.index = index;
    segment.file_offset = read_word(image, header + layout.p_offset, layout);
    segment.virtual_address = read_word(image, header + layout.p_vaddr, layout);
    segment.physical_address = read_word(image, header + layout.p_paddr, layout);
    segment.file_size = read_word(image, header + layout.p_filesz, layout);
    segment.memory_size = read_word(image, header + layout.p_memsz, layout);
    if (segment.file_size > segment.memory_size)
        return make_error("program header {} at {:#x}: file size {:#x} exceeds memory size {:#x}",
                          index, header, segment.file_size, segment.memory_size);
    if (!range_in_bounds(image.size(), segment.file_offset, segment.file_size))
        return make_error("program header {} at {:#x}: segment {:#x}+{:#x} extends past the end "
                          "of the file ({:#x} bytes)",
                          index, header, segment.file_offset, segment.file_size, image.size());
    if (segment.physical_address > ~std::uint64_t{0} - segment.memory_size)
        return make_error("program header {} at {:#x}: segment {:#x}+{:#x} wraps around", index,
                          header, segment.physical_address, segment.memory_size);
    return segment;
}

} // namespace

bool has_elf_magic(std::span<const std::uint8_t> image) {
    return image.size() >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' &&
           image[3] == 'F';
}

Result<ElfImage> ElfImage::parse(std::span<const std::uint8_t> image) {
    if (!has_elf_magic(image)) return make_error("ELF magic missing at 0x0");
    if (image.size() < 16) return make_error("ELF identification truncated at {:#x}", image.size());
    auto elf_class = image[4];
    if (elf_class != elf_class_32 && elf_class != elf_class_64)
        return make_error("unsupported ELF class {} at 0x4", elf_class);
    if (image[5] != elf_data_lsb)
        return make_error("ELF data encoding {} at 0x5 is not little-endian", image[5]);
    const ElfLayout& layout = elf_class == elf_class_64 ? elf64_layout : elf32_layout;
    if (image.size() < layout.header_size)
        return make_error("ELF header truncated: file has {:#x} bytes, header needs {:#x}",
                          image.size(), layout.header_size);

    auto type = read_le<std::uint16_t>(image, 16).value_or(0);
    if (type != elf_type_exec && type != elf_type_dyn)
        return make_error("ELF type {} at 0x10 is not an executable", type);
    auto machine = read_le<std::uint16_t>(image, 18).value_or(0);
    auto expected_machine = elf_class == elf_class_64 ? elf_machine_x86_64 : elf_machine_386;
    if (machine != expected_machine)
        return make_error("ELF machine {} at 0x12 is not {}", machine,
                          elf_class == elf_class_64 ? "x86-64" : "i386");

    ElfImage result{};
    result.is_64_bit = elf_class == elf_class_64;
    result.entry = read_word(image, layout.entry, layout);
    auto table = read_word(image, layout.program_offset, layout);
    auto entry_size = read_le<std::uint16_t>(image, layout.program_entry_size).value_or(0);
    auto count = read_le<std::uint16_t>(image, layout.program_count).value_or(0);
    if (count == 0)
        return make_error("ELF has no program headers (e_phnum at {:#x} is 0)",
                          layout.program_count);
    if (count == program_count_extended)
        return make_error("ELF extended program header count (PN_XNUM) is not supported");
    if (entry_size < layout.program_header_size)
        return make_error("program header size {} at {:#x} is below {}", entry_size,
                          layout.program_entry_size, layout.program_header_size);
    // count and entry_size are 16-bit, so the product cannot overflow 64 bits.
    if (!range_in_bounds(image.size(), table, std::uint64_t{count} * entry_size))
        return make_error("program header table {:#x}+{}x{} extends past the end of the file "
                          "({:#x} bytes)",
                          table, count, entry_size, image.size());
    for (std::uint32_t index = 0; index < count; ++index) {
        auto header = table + std::uint64_t{index} * entry_size;
        if (read_le<std::uint32_t>(image, header).value_or(0) != program_type_load) continue;
        auto segment = TRY(parse_program_header(image, header, index, layout));
        if (segment.memory_size != 0) result.segments.push_back(segment);
    }
    if (result.segments.empty()) return make_error("ELF has no loadable (PT_LOAD) segments");
    return result;
}

} // namespace vessel::x86
