// Multiboot v1 loader: kernel image, modules, boot information and entry state.
#include "arch/x86/multiboot_loader.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "arch/x86/boot_gdt.hpp"
#include "arch/x86/boot_layout.hpp"
#include "arch/x86/boot_placement.hpp"
#include "arch/x86/e820.hpp"
#include "arch/x86/elf_image.hpp"
#include "arch/x86/image_bytes.hpp"

namespace vessel::x86 {

namespace {

using namespace multiboot;

constexpr std::uint64_t four_gib = std::uint64_t{1} << 32;
constexpr std::uint64_t page_size = 0x1000;
constexpr std::uint64_t header_size = 12;                // magic, flags, checksum
constexpr std::uint64_t header_with_address_fields = 32; // + 5 address fields (3.1.3)
constexpr char boot_loader_name[] = "Vessel";

// Selectors of the boot GDT written for the kernel: null, code, data, TSS.
constexpr std::uint16_t code_selector = 0x08;
constexpr std::uint16_t data_selector = 0x10;
constexpr std::uint16_t tss_selector = 0x18;
constexpr std::uint64_t gdt_size = 4 * 8;

struct MultibootHeader {
    std::uint64_t offset;
    std::uint32_t flags;
};

std::optional<MultibootHeader> find_header(std::span<const std::uint8_t> image) {
    auto limit = std::min<std::uint64_t>(image.size(), header_search_limit);
    for (std::uint64_t offset = 0; offset + header_size <= limit; offset += 4) {
        auto magic = read_le<std::uint32_t>(image, offset).value_or(0);
        if (magic != header_magic) continue;
        auto flags = read_le<std::uint32_t>(image, offset + 4).value_or(0);
        auto checksum = read_le<std::uint32_t>(image, offset + 8).value_or(0);
        if (static_cast<std::uint32_t>(magic + flags + checksum) == 0)
            return MultibootHeader{offset, flags};
    }
    return std::nullopt;
}

/// Bytes [file_offset, +file_size) of the image go to `address`; the rest of memory_size is
/// zeroed (bss). The file range has already been checked against the image.
struct KernelPiece {
    std::string name;
    std::uint64_t file_offset;
    std::uint64_t file_size;
    std::uint64_t address;
    std::uint64_t memory_size;
};

struct KernelPlan {
    std::vector<KernelPiece> pieces;
    std::uint64_t entry;
};

/// The a.out kludge: the header's own address fields say what to load where (3.1.3).
Result<KernelPlan> plan_from_address_fields(std::span<const std::uint8_t> image,
                                            const MultibootHeader& header) {
    if (!range_in_bounds(image.size(), header.offset, header_with_address_fields))
        return make_error("header at {:#x} sets flag 16 but its address fields are truncated",
                          header.offset);
    auto field = [&](std::uint64_t index) {
        return read_le<std::uint32_t>(image, header.offset + 12 + 4 * index).value_or(0);
    };
    std::uint64_t header_address = field(0), load_address = field(1), load_end = field(2),
                  bss_end = field(3), entry = field(4);
    if (load_address > header_address)
        return make_error("load_addr {:#x} at {:#x} is above header_addr {:#x}", load_address,
                          header.offset + 16, header_address);
    if (header_address - load_address > header.offset)
        return make_error("header_addr {:#x} - load_addr {:#x} at {:#x} is more than the header's "
                          "file offset {:#x}",
                          header_address, load_address, header.offset + 12, header.offset);
    auto file_offset = header.offset - (header_address - load_address);
    std::uint64_t file_size = image.size() - file_offset;
    if (load_end != 0) {
        if (load_end < load_address)
            return make_error("load_end_addr {:#x} at {:#x} is below load_addr {:#x}", load_end,
                              header.offset + 20, load_address);
        file_size = load_end - load_address;
        if (!range_in_bounds(image.size(), file_offset, file_size))
            return make_error("load_end_addr {:#x} at {:#x} asks for {:#x} bytes from file offset "
                              "{:#x}, past the end of the file ({:#x} bytes)",
                              load_end, header.offset + 20, file_size, file_offset, image.size());
    }
    std::uint64_t memory_size = file_size;
    if (bss_end != 0) {
        if (bss_end < load_address + file_size)
            return make_error("bss_end_addr {:#x} at {:#x} is below the end of the loaded image "
                              "{:#x}",
                              bss_end, header.offset + 24, load_address + file_size);
        memory_size = bss_end - load_address;
    }
    KernelPlan plan;
    plan.pieces.push_back({"address fields", file_offset, file_size, load_address, memory_size});
    plan.entry = entry;
    return plan;
}

/// ELF program headers: PT_LOAD segments go to p_paddr. A virtual e_entry inside a segment
/// is translated to its physical address, as GRUB does for higher-half kernels.
Result<KernelPlan> plan_from_elf(std::span<const std::uint8_t> image) {
    auto elf = TRY(ElfImage::parse(image));
    KernelPlan plan;
    plan.entry = elf.entry;
    for (const auto& segment : elf.segments) {
        plan.pieces.push_back({fmt::format("program header {}", segment.index), segment.file_offset,
                               segment.file_size, segment.physical_address, segment.memory_size});
        if (elf.entry >= segment.virtual_address &&
            elf.entry - segment.virtual_address < segment.memory_size)
            plan.entry = elf.entry - segment.virtual_address + segment.physical_address;
    }
    if (plan.entry >= four_gib)
        return make_error("entry point {:#x} (e_entry at 0x18) is above 4 GiB", plan.entry);
    return plan;
}

std::string describe_size(std::uint64_t bytes) {
    if (bytes % (1u << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
    return fmt::format("{} KiB", bytes >> 10);
}

Result<void> load_pieces(GuestMemory& memory, BootPlacement& placement,
                         std::span<const std::uint8_t> image, const KernelPlan& plan) {
    for (const auto& piece : plan.pieces) {
        if (!memory.contains(piece.address, piece.memory_size) ||
            piece.address + piece.memory_size > four_gib)
            return make_error("{} loads {:#x}+{:#x} outside guest RAM below 4 GiB ({})", piece.name,
                              piece.address, piece.memory_size, describe_size(memory.size()));
        if (!placement.is_usable_ram({piece.address, piece.memory_size}))
            return make_error("{} loads {:#x}+{:#x} into an area the memory map reserves "
                              "({:#x}-{:#x} is not usable RAM)",
                              piece.name, piece.address, piece.memory_size,
                              boot_layout::reserved_low_start, boot_layout::reserved_low_end - 1);
    }
    for (const auto& piece : plan.pieces) {
        TRY(memory.write_bytes(piece.address, image.subspan(piece.file_offset, piece.file_size)));
        TRY(memory.fill(piece.address + piece.file_size, 0, piece.memory_size - piece.file_size));
        placement.reserve({piece.address, piece.memory_size});
    }
    return {};
}

struct PlacedModule {
    std::uint64_t start;
    std::uint64_t end;
};

Result<std::vector<PlacedModule>> load_modules(GuestMemory& memory, BootPlacement& placement,
                                               std::uint64_t kernel_end,
                                               std::span<const BootModule> modules) {
    std::vector<PlacedModule> placed;
    for (std::size_t index = 0; index < modules.size(); ++index) {
        const auto& module = modules[index];
        auto address = placement.lowest_fit(module.data.size(), page_size, kernel_end, four_gib);
        if (!address)
            return make_error("module {} ({}) of {} bytes does not fit in guest RAM above the "
                              "kernel and below 4 GiB",
                              index, module.command_line, module.data.size());
        TRY(memory.write_bytes(*address, module.data));
        placement.reserve({*address, module.data.size()});
        placed.push_back({*address, *address + module.data.size()});
    }
    return placed;
}

/// Finds room for boot data: free low memory first, then anywhere below 4 GiB.
Result<std::uint64_t> place_boot_data(const BootPlacement& placement, std::uint64_t size,
                                      std::string_view what) {
    auto address = placement.lowest_fit(size, 16, boot_layout::multiboot_info_area_start,
                                        boot_layout::ebda_start);
    if (!address)
        address = placement.lowest_fit(size, 16, boot_layout::high_memory_start, four_gib);
    if (!address)
        return make_error("no free guest RAM below 4 GiB for the {} ({} bytes)", what, size);
    return *address;
}

/// Kilobytes of RAM in the memory-map entry starting at `start` (mem_lower/mem_upper, 3.3).
std::uint32_t ram_kib_at(const std::vector<E820Entry>& map, std::uint64_t start) {
    for (const auto& entry : map)
        if (entry.type == E820Type::ram && entry.address == start)
            return static_cast<std::uint32_t>(
                std::min<std::uint64_t>(entry.size >> 10, 0xffffffff));
    return 0;
}

/// Builds the boot information block (info structure, memory map, module list, strings) and
/// writes it to free guest RAM. Returns its address.
Result<std::uint64_t> write_boot_information(GuestMemory& memory, BootPlacement& placement,
                                             const std::vector<E820Entry>& map,
                                             std::string_view kernel_command_line,
                                             std::span<const BootModule> modules,
                                             const std::vector<PlacedModule>& placed) {
    std::uint64_t mmap_offset = info_size;
    std::uint64_t modules_offset = mmap_offset + map.size() * mmap_entry_size;
    std::uint64_t strings_offset = modules_offset + modules.size() * module_entry_size;
    std::uint64_t total =
        strings_offset + kernel_command_line.size() + 1 + sizeof(boot_loader_name);
    for (const auto& module : modules)
        total += module.command_line.size() + 1;

    auto base = TRY(place_boot_data(placement, total, "Multiboot information"));
    std::vector<std::uint8_t> block(total, 0);
    std::span<std::uint8_t> bytes(block);
    std::uint64_t string_cursor = strings_offset;
    auto add_string = [&](std::string_view text) {
        std::copy(text.begin(), text.end(), block.begin() + string_cursor);
        auto address = static_cast<std::uint32_t>(base + string_cursor);
        string_cursor += text.size() + 1;
        return address;
    };

    store_le<std::uint32_t>(bytes, info_flags_offset,
                            info_memory | info_command_line | info_modules | info_memory_map |
                                info_boot_loader_name);
    store_le<std::uint32_t>(bytes, info_mem_lower_offset, ram_kib_at(map, 0));
    store_le<std::uint32_t>(bytes, info_mem_upper_offset,
                            ram_kib_at(map, boot_layout::high_memory_start));
    store_le<std::uint32_t>(bytes, info_cmdline_offset, add_string(kernel_command_line));
    store_le<std::uint32_t>(bytes, info_boot_loader_name_offset, add_string(boot_loader_name));
    store_le<std::uint32_t>(bytes, info_mods_count_offset,
                            static_cast<std::uint32_t>(modules.size()));
    store_le<std::uint32_t>(bytes, info_mods_addr_offset,
                            static_cast<std::uint32_t>(base + modules_offset));
    store_le<std::uint32_t>(bytes, info_mmap_length_offset,
                            static_cast<std::uint32_t>(map.size() * mmap_entry_size));
    store_le<std::uint32_t>(bytes, info_mmap_addr_offset,
                            static_cast<std::uint32_t>(base + mmap_offset));
    for (std::size_t index = 0; index < map.size(); ++index) {
        auto entry = mmap_offset + index * mmap_entry_size;
        store_le<std::uint32_t>(bytes, entry, mmap_entry_size_field);
        store_le<std::uint64_t>(bytes, entry + 4, map[index].address);
        store_le<std::uint64_t>(bytes, entry + 12, map[index].size);
        store_le<std::uint32_t>(bytes, entry + 20, static_cast<std::uint32_t>(map[index].type));
    }
    for (std::size_t index = 0; index < modules.size(); ++index) {
        auto entry = modules_offset + index * module_entry_size;
        store_le<std::uint32_t>(bytes, entry, static_cast<std::uint32_t>(placed[index].start));
        store_le<std::uint32_t>(bytes, entry + 4, static_cast<std::uint32_t>(placed[index].end));
        store_le<std::uint32_t>(bytes, entry + 8, add_string(modules[index].command_line));
    }
    TRY(memory.write_bytes(base, block));
    placement.reserve({base, total});
    return base;
}

/// Writes the GDT and TSS and fills in the segment state that matches them.
Result<void> set_up_segments(GuestMemory& memory, BootPlacement& placement, CpuState& state) {
    auto gdt_address =
        TRY(place_boot_data(placement, gdt_size + boot_layout::boot_tss_size, "GDT"));
    auto tss_address = gdt_address + gdt_size;
    TRY(memory.fill(tss_address, 0, boot_layout::boot_tss_size));
    placement.reserve({gdt_address, gdt_size + boot_layout::boot_tss_size});

    state.cs = flat_segment(code_selector, code_execute_read_accessed, false);
    auto data = flat_segment(data_selector, data_read_write_accessed, false);
    state.ds = state.es = state.fs = state.gs = state.ss = data;
    state.tr = boot_tss_segment(tss_selector, tss_address);
    state.ldt = unusable_ldt_segment();
    const std::uint64_t descriptors[] = {0, encode_segment_descriptor(state.cs),
                                         encode_segment_descriptor(data),
                                         encode_segment_descriptor(state.tr)};
    state.gdt = TRY(write_gdt(memory, gdt_address, descriptors));
    state.idt = {0, 0};
    return {};
}

Result<KernelPlan> plan_kernel(std::span<const std::uint8_t> image) {
    if (image.empty()) return make_error("file is empty");
    auto header = find_header(image);
    if (!header)
        return make_error("no Multiboot header (magic {:#x} with valid checksum) in the first "
                          "{} bytes",
                          header_magic, header_search_limit);
    auto unknown = header->flags & required_flags_mask &
                   ~(flag_page_align_modules | flag_memory_info | flag_video_mode);
    if (unknown != 0)
        return make_error("header at {:#x} requires unsupported features (flags {:#x})",
                          header->offset, unknown);
    if (header->flags & flag_address_fields) return plan_from_address_fields(image, *header);
    if (!has_elf_magic(image))
        return make_error("not an ELF file and the header at {:#x} has no address fields "
                          "(flag 16 clear)",
                          header->offset);
    return plan_from_elf(image);
}

} // namespace

bool has_multiboot_header(std::span<const std::uint8_t> image) {
    return find_header(image).has_value();
}

Result<CpuState> load_multiboot(GuestMemory& memory, std::span<const std::uint8_t> image,
                                std::string_view image_path, std::string_view command_line,
                                std::span<const BootModule> modules) {
    auto context = fmt::format("multiboot {}", image_path);
    auto plan = TRY_CONTEXT(plan_kernel(image), context);
    auto map = build_e820_map(memory);
    BootPlacement placement(map);
    TRY_CONTEXT(load_pieces(memory, placement, image, plan), context);

    std::uint64_t kernel_end = 0;
    for (const auto& piece : plan.pieces)
        kernel_end = std::max(kernel_end, piece.address + piece.memory_size);
    auto placed = TRY_CONTEXT(load_modules(memory, placement, kernel_end, modules), context);

    auto kernel_command_line = std::string(image_path);
    if (!command_line.empty()) kernel_command_line += fmt::format(" {}", command_line);
    CpuState state;
    auto info = TRY_CONTEXT(
        write_boot_information(memory, placement, map, kernel_command_line, modules, placed),
        context);
    TRY_CONTEXT(set_up_segments(memory, placement, state), context);
    state.gpr[rax] = bootloader_magic;
    state.gpr[rbx] = info;
    state.rip = plan.entry;
    state.rflags = rflags::fixed1;
    state.cr0 = cr0::pe | cr0::et;
    return state;
}

} // namespace vessel::x86
