// Linux bzImage loader: setup header checks, zero page, command line, initrd, entry state.
#include "arch/x86/bzimage_loader.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include "arch/x86/boot_gdt.hpp"
#include "arch/x86/boot_layout.hpp"
#include "arch/x86/boot_page_tables.hpp"
#include "arch/x86/boot_placement.hpp"
#include "arch/x86/e820.hpp"
#include "arch/x86/image_bytes.hpp"

namespace vessel::x86 {

namespace {

using namespace linux_boot;

constexpr std::uint64_t sector_size = 512;
constexpr std::uint8_t default_setup_sects = 4; ///< setup_sects 0 means 4 (boot.rst)
constexpr std::uint64_t page_size = 0x1000;
constexpr std::uint64_t four_gib = std::uint64_t{1} << 32;
/// Where the 2.06 header ends (after cmdline_size) and where the 2.10 one does (after init_size).
constexpr std::uint64_t header_end_2_06 = 0x23c;
constexpr std::uint64_t header_end_2_10 = 0x264;

// Boot GDT selectors fixed by the boot protocol: __BOOT_CS and __BOOT_DS (boot.rst).
constexpr std::uint16_t boot_code_selector = 0x10;
constexpr std::uint16_t boot_data_selector = 0x18;
constexpr std::uint16_t boot_tss_selector = 0x20;

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > std::numeric_limits<std::uint64_t>::max() - b
               ? std::numeric_limits<std::uint64_t>::max()
               : a + b;
}

/// The setup header fields the loader uses, already checked against the file.
struct SetupHeader {
    std::uint64_t header_end; ///< end of the setup header in the file (0x202 + jump offset)
    std::uint64_t setup_size; ///< real-mode code, (setup_sects + 1) * 512
    std::uint64_t kernel_size;
    std::uint16_t version;
    std::uint8_t loadflags;
    std::uint32_t initrd_addr_max;
    std::uint32_t kernel_alignment;
    bool relocatable;
    std::uint16_t xloadflags;
    std::uint32_t cmdline_size;
    std::uint64_t pref_address;
    std::uint32_t init_size;

    bool is_64_bit() const { return (xloadflags & xloadflags_kernel_64) != 0; }
};

template <typename T> T field(std::span<const std::uint8_t> image, std::uint64_t offset) {
    return read_le<T>(image, offset).value_or(T{});
}

Result<void> check_header_presence(std::span<const std::uint8_t> image) {
    if (image.empty()) return make_error("file is empty");
    if (image.size() < version + 2)
        return make_error("file of {:#x} bytes is truncated before the setup header at {:#x}",
                          image.size(), setup_header_start);
    if (field<std::uint32_t>(image, header) != header_magic)
        return make_error("setup header magic missing at {:#x}", header);
    if (field<std::uint16_t>(image, boot_flag) != boot_flag_magic)
        return make_error("boot flag {:#x} missing at {:#x}", boot_flag_magic, boot_flag);
    auto protocol = field<std::uint16_t>(image, version);
    if (protocol < minimum_protocol)
        return make_error("boot protocol {}.{:02} at {:#x} is older than the supported 2.06",
                          protocol >> 8, protocol & 0xff, version);
    return {};
}

Result<SetupHeader> parse_setup_header(std::span<const std::uint8_t> image) {
    TRY(check_header_presence(image));
    SetupHeader setup{};
    setup.version = field<std::uint16_t>(image, version);
    // The jump at 0x200 is "jmp short" over the header: its offset byte gives the header end.
    setup.header_end = header + field<std::uint8_t>(image, jump + 1);
    auto needed = setup.version >= protocol_pref_address ? header_end_2_10 : header_end_2_06;
    if (setup.header_end < needed)
        return make_error("setup header ends at {:#x} (jump at {:#x}), protocol {}.{:02} needs "
                          "{:#x}",
                          setup.header_end, jump, setup.version >> 8, setup.version & 0xff, needed);
    auto sectors = field<std::uint8_t>(image, setup_sects);
    setup.setup_size =
        (std::uint64_t{sectors == 0 ? default_setup_sects : sectors} + 1) * sector_size;
    if (setup.setup_size < setup.header_end || setup.setup_size > image.size())
        return make_error("setup code of {:#x} bytes (setup_sects {} at {:#x}) does not fit the "
                          "file of {:#x} bytes",
                          setup.setup_size, sectors, setup_sects, image.size());
    setup.kernel_size = std::uint64_t{field<std::uint32_t>(image, syssize)} * 16;
    if (setup.kernel_size == 0) return make_error("syssize at {:#x} is 0", syssize);
    if (setup.kernel_size > image.size() - setup.setup_size)
        return make_error("protected-mode kernel truncated: syssize at {:#x} says {:#x} bytes, "
                          "the file has {:#x} after the setup code at {:#x}",
                          syssize, setup.kernel_size, image.size() - setup.setup_size,
                          setup.setup_size);
    setup.loadflags = field<std::uint8_t>(image, loadflags);
    if ((setup.loadflags & loadflags_loaded_high) == 0)
        return make_error("loadflags at {:#x} lack LOADED_HIGH: not a bzImage", loadflags);
    setup.initrd_addr_max = field<std::uint32_t>(image, initrd_addr_max);
    setup.kernel_alignment = field<std::uint32_t>(image, kernel_alignment);
    setup.relocatable = field<std::uint8_t>(image, relocatable_kernel) != 0;
    setup.cmdline_size = field<std::uint32_t>(image, cmdline_size);
    if (setup.version >= protocol_pref_address) {
        setup.pref_address = field<std::uint64_t>(image, pref_address);
        setup.init_size = field<std::uint32_t>(image, init_size);
    }
    if (setup.version >= protocol_xloadflags)
        setup.xloadflags = field<std::uint16_t>(image, xloadflags);
    return setup;
}

/// End of the memory the kernel uses from `load`: its image, and init_size bytes from where
/// it will run (the load address rounded up to kernel_alignment, or pref_address when it
/// cannot relocate; boot.rst "init_size").
std::uint64_t kernel_area_end(const SetupHeader& setup, std::uint64_t load) {
    auto end = load + setup.kernel_size;
    if (setup.init_size == 0) return end;
    auto runtime = load;
    if (setup.relocatable && setup.kernel_alignment > 1) {
        std::uint64_t alignment = setup.kernel_alignment;
        runtime = (load + alignment - 1) / alignment * alignment;
    } else if (!setup.relocatable && setup.pref_address > load) {
        runtime = setup.pref_address;
    }
    return std::max(end, saturating_add(runtime, setup.init_size));
}

bool kernel_fits(const GuestMemory& memory, const BootPlacement& placement,
                 const SetupHeader& setup, std::uint64_t load) {
    auto end = kernel_area_end(setup, load);
    return end <= four_gib && memory.contains(load, end - load) &&
           placement.is_usable_ram({load, end - load});
}

Result<std::uint64_t> choose_load_address(const GuestMemory& memory, const BootPlacement& placement,
                                          const SetupHeader& setup) {
    auto preferred = setup.pref_address;
    if (setup.relocatable && preferred >= boot_layout::high_memory_start &&
        kernel_fits(memory, placement, setup, preferred))
        return preferred;
    auto load = boot_layout::linux_kernel_default_address;
    if (kernel_fits(memory, placement, setup, load)) return load;
    auto end = kernel_area_end(setup, load);
    return make_error("kernel needs guest RAM {:#x}-{:#x} (syssize {:#x}, init_size {:#x} at "
                      "{:#x}) but RAM below 4 GiB ends at {:#x}",
                      load, end, setup.kernel_size, setup.init_size, init_size,
                      low_ram_end(memory));
}

Result<void> check_command_line(const SetupHeader& setup, std::string_view command_line) {
    std::uint64_t limit =
        std::min<std::uint64_t>(setup.cmdline_size, boot_layout::command_line_capacity - 1);
    if (command_line.size() > limit)
        return make_error("command line of {} bytes is longer than {} (cmdline_size at {:#x} is "
                          "{})",
                          command_line.size(), limit, cmdline_size, setup.cmdline_size);
    return {};
}

/// Places the initrd as high as possible below initrd_addr_max and the end of low RAM,
/// page-aligned, clear of the kernel. Returns its address (0 when there is none).
Result<std::uint64_t> place_initrd(const GuestMemory& memory, const BootPlacement& placement,
                                   const SetupHeader& setup, std::span<const std::uint8_t> initrd,
                                   std::string_view initrd_path) {
    if (initrd.empty()) return 0;
    auto limit =
        std::min<std::uint64_t>(std::uint64_t{setup.initrd_addr_max} + 1, low_ram_end(memory));
    auto address =
        placement.highest_fit(initrd.size(), page_size, boot_layout::high_memory_start, limit);
    if (!address)
        return make_error("initrd {} of {} bytes does not fit in guest RAM between the kernel and "
                          "{:#x} (initrd_addr_max {:#x} at {:#x}, RAM size {:#x})",
                          initrd_path, initrd.size(), limit, setup.initrd_addr_max, initrd_addr_max,
                          memory.size());
    return *address;
}

struct BootPlan {
    std::uint64_t load_address;
    std::uint64_t initrd_address;
    std::uint64_t initrd_size;
};

/// Builds boot_params: the file's setup header plus what the loader fills in (boot.rst
/// "Details of header fields", zero-page.rst).
std::vector<std::uint8_t> build_zero_page(std::span<const std::uint8_t> image,
                                          const SetupHeader& setup, const BootPlan& plan,
                                          const std::vector<E820Entry>& map) {
    std::vector<std::uint8_t> page(boot_layout::zero_page_size, 0);
    std::span<std::uint8_t> bytes(page);
    auto header_end = std::min(setup.header_end, setup_header_limit);
    std::copy(image.begin() + setup_header_start, image.begin() + header_end,
              page.begin() + setup_header_start);
    store_le<std::uint16_t>(bytes, vid_mode, vid_mode_normal);
    store_le<std::uint8_t>(bytes, type_of_loader, loader_type_undefined);
    store_le<std::uint32_t>(bytes, code32_start, static_cast<std::uint32_t>(plan.load_address));
    store_le<std::uint32_t>(bytes, ramdisk_image, static_cast<std::uint32_t>(plan.initrd_address));
    store_le<std::uint32_t>(bytes, ramdisk_size, static_cast<std::uint32_t>(plan.initrd_size));
    store_le<std::uint32_t>(bytes, ext_ramdisk_image,
                            static_cast<std::uint32_t>(plan.initrd_address >> 32));
    store_le<std::uint32_t>(bytes, ext_ramdisk_size,
                            static_cast<std::uint32_t>(plan.initrd_size >> 32));
    store_le<std::uint32_t>(bytes, cmd_line_ptr,
                            static_cast<std::uint32_t>(boot_layout::command_line_address));
    store_le<std::uint32_t>(bytes, ext_cmd_line_ptr,
                            static_cast<std::uint32_t>(boot_layout::command_line_address >> 32));
    auto count = std::min<std::uint64_t>(map.size(), max_e820_entries);
    store_le<std::uint8_t>(bytes, e820_entries, static_cast<std::uint8_t>(count));
    for (std::uint64_t index = 0; index < count; ++index) {
        auto entry = e820_table + index * e820_entry_size;
        store_le<std::uint64_t>(bytes, entry, map[index].address);
        store_le<std::uint64_t>(bytes, entry + 8, map[index].size);
        store_le<std::uint32_t>(bytes, entry + 16, static_cast<std::uint32_t>(map[index].type));
    }
    return page;
}

/// Writes the boot GDT (__BOOT_CS, __BOOT_DS, a TSS) and sets the matching segment state.
Result<void> set_up_segments(GuestMemory& memory, CpuState& state, bool long_mode) {
    using namespace boot_layout;
    state.cs = flat_segment(boot_code_selector, code_execute_read_accessed, long_mode);
    auto data = flat_segment(boot_data_selector, data_read_write_accessed, false);
    state.ds = state.es = state.fs = state.gs = state.ss = data;
    state.tr = boot_tss_segment(boot_tss_selector, boot_tss_address);
    state.ldt = unusable_ldt_segment();
    TRY(memory.fill(boot_tss_address, 0, boot_tss_size));
    std::vector<std::uint64_t> descriptors = {0, 0, encode_segment_descriptor(state.cs),
                                              encode_segment_descriptor(data),
                                              encode_segment_descriptor(state.tr)};
    if (long_mode) descriptors.push_back(boot_tss_address >> 32); // 16-byte system descriptor
    state.gdt = TRY(write_gdt(memory, boot_gdt_address, descriptors));
    state.idt = {0, 0};
    return {};
}

Result<CpuState> entry_state(GuestMemory& memory, const SetupHeader& setup,
                             std::uint64_t load_address) {
    CpuState state;
    TRY(set_up_segments(memory, state, setup.is_64_bit()));
    state.gpr[rsi] = boot_layout::zero_page_address;
    state.rflags = rflags::fixed1;
    if (setup.is_64_bit()) {
        state.cr3 = TRY(write_identity_page_tables(memory));
        state.cr0 = cr0::pe | cr0::et | cr0::pg;
        state.cr4 = cr4::pae;
        state.efer = efer::lme | efer::lma;
        state.rip = load_address + entry_64_offset;
        state.gpr[rsp] = boot_layout::boot_stack_pointer;
    } else {
        state.cr0 = cr0::pe | cr0::et;
        state.rip = load_address;
    }
    return state;
}

Result<CpuState> load(GuestMemory& memory, std::span<const std::uint8_t> image,
                      std::string_view command_line, std::span<const std::uint8_t> initrd,
                      std::string_view initrd_path) {
    auto setup = TRY(parse_setup_header(image));
    TRY(check_command_line(setup, command_line));
    auto map = build_e820_map(memory);
    BootPlacement placement(map);
    BootPlan plan{};
    plan.load_address = TRY(choose_load_address(memory, placement, setup));
    placement.reserve(
        {plan.load_address, kernel_area_end(setup, plan.load_address) - plan.load_address});
    plan.initrd_address = TRY(place_initrd(memory, placement, setup, initrd, initrd_path));
    plan.initrd_size = initrd.size();

    TRY(memory.write_bytes(plan.load_address, image.subspan(setup.setup_size, setup.kernel_size)));
    if (!initrd.empty()) TRY(memory.write_bytes(plan.initrd_address, initrd));
    // The host's command-line characters viewed as bytes (char may alias anything), then NUL.
    TRY(memory.write_bytes(
        boot_layout::command_line_address,
        {reinterpret_cast<const std::uint8_t*>(command_line.data()), command_line.size()}));
    TRY(memory.write<std::uint8_t>(boot_layout::command_line_address + command_line.size(), 0));
    TRY(memory.write_bytes(boot_layout::zero_page_address,
                           build_zero_page(image, setup, plan, map)));
    return entry_state(memory, setup, plan.load_address);
}

} // namespace

Result<std::uint64_t> bzimage_command_line_limit(std::span<const std::uint8_t> image_start) {
    TRY(check_header_presence(image_start));
    if (image_start.size() < header_end_2_06)
        return make_error("file of {:#x} bytes is truncated before cmdline_size at {:#x}",
                          image_start.size(), cmdline_size);
    return std::min<std::uint64_t>(field<std::uint32_t>(image_start, cmdline_size),
                                   boot_layout::command_line_capacity - 1);
}

Result<CpuState> load_bzimage(GuestMemory& memory, std::span<const std::uint8_t> image,
                              std::string_view image_path, std::string_view command_line,
                              std::span<const std::uint8_t> initrd, std::string_view initrd_path) {
    return TRY_CONTEXT(load(memory, image, command_line, initrd, initrd_path),
                       fmt::format("bzImage {}", image_path));
}

} // namespace vessel::x86
