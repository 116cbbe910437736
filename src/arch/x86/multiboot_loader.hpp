// Multiboot v1 loader: puts an ELF or a.out-kludge kernel, its modules and the Multiboot
// information structure in guest RAM and returns the 32-bit protected-mode entry state.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "arch/x86/cpu_state.hpp"
#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::x86 {

/// Multiboot Specification version 0.6.96 constants.
namespace multiboot {
constexpr std::uint32_t header_magic = 0x1BADB002;     ///< 3.1.2 magic
constexpr std::uint32_t bootloader_magic = 0x2BADB002; ///< 3.2, EAX at entry
constexpr std::uint64_t header_search_limit = 8192;    ///< 3.1.1
// Header flags (3.1.2). Bits 0-15 are requirements a boot loader must fail on if unknown.
constexpr std::uint32_t flag_page_align_modules = 1u << 0;
constexpr std::uint32_t flag_memory_info = 1u << 1;
constexpr std::uint32_t flag_video_mode = 1u << 2;
constexpr std::uint32_t flag_address_fields = 1u << 16; ///< a.out kludge (3.1.3)
constexpr std::uint32_t required_flags_mask = 0xffff;
// Boot information flags (3.3).
constexpr std::uint32_t info_memory = 1u << 0;
constexpr std::uint32_t info_boot_device = 1u << 1;
constexpr std::uint32_t info_command_line = 1u << 2;
constexpr std::uint32_t info_modules = 1u << 3;
constexpr std::uint32_t info_memory_map = 1u << 6;
constexpr std::uint32_t info_boot_loader_name = 1u << 9;
// Boot information field offsets (3.3).
constexpr std::uint64_t info_flags_offset = 0;
constexpr std::uint64_t info_mem_lower_offset = 4;
constexpr std::uint64_t info_mem_upper_offset = 8;
constexpr std::uint64_t info_cmdline_offset = 16;
constexpr std::uint64_t info_mods_count_offset = 20;
constexpr std::uint64_t info_mods_addr_offset = 24;
constexpr std::uint64_t info_mmap_length_offset = 44;
constexpr std::uint64_t info_mmap_addr_offset = 48;
constexpr std::uint64_t info_boot_loader_name_offset = 64;
constexpr std::uint64_t info_size = 120;        ///< through the framebuffer fields of 0.6.96
constexpr std::uint64_t module_entry_size = 16; ///< mod_start, mod_end, string, reserved
constexpr std::uint64_t mmap_entry_size = 24;   ///< size field + 20-byte entry
constexpr std::uint32_t mmap_entry_size_field = 20;
} // namespace multiboot

/// A boot module: its bytes and the string the kernel sees for it (by convention the module's
/// file name followed by its arguments).
struct BootModule {
    std::string command_line;
    std::span<const std::uint8_t> data;
};

/// True when a Multiboot v1 header (magic 0x1BADB002 with valid checksum) is in the first
/// 8192 bytes, 4-aligned.
bool has_multiboot_header(std::span<const std::uint8_t> image);

/// Loads a Multiboot v1 kernel (ELF32/ELF64 program headers, or the header's address fields
/// when flag 16 is set), its modules page-aligned above it, and the boot information (memory
/// sizes, memory map, command line "image_path command_line" as GRUB and QEMU pass it, module
/// list, boot loader name "Vessel") plus a flat GDT in free low memory. Returns the entry
/// state of Multiboot 0.6.96 section 3.2: EAX=0x2BADB002, EBX=info address, flat 32-bit
/// segments, CR0.PE=1, paging and interrupts off.
Result<CpuState> load_multiboot(GuestMemory& memory, std::span<const std::uint8_t> image,
                                std::string_view image_path, std::string_view command_line,
                                std::span<const BootModule> modules);

} // namespace vessel::x86
