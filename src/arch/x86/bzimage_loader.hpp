// Linux bzImage loader (x86 boot protocol, Documentation/arch/x86/boot.rst): kernel, zero page,
// command line, initrd, and the 64-bit (or, for kernels without XLF_KERNEL_64, 32-bit) entry.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "arch/x86/cpu_state.hpp"
#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::x86 {

/// Boot protocol constants and struct boot_params / setup_header offsets
/// (boot.rst "The Real-Mode Kernel Header", zero-page.rst).
namespace linux_boot {
constexpr std::uint32_t header_magic = 0x53726448;      ///< "HdrS" at 0x202
constexpr std::uint16_t boot_flag_magic = 0xaa55;       ///< boot_flag at 0x1fe
constexpr std::uint16_t minimum_protocol = 0x0206;      ///< cmdline_size exists from 2.06
constexpr std::uint16_t protocol_xloadflags = 0x020c;   ///< xloadflags exists from 2.12
constexpr std::uint16_t protocol_pref_address = 0x020a; ///< pref_address, init_size from 2.10
constexpr std::uint8_t loadflags_loaded_high = 1u << 0; ///< LOADED_HIGH
constexpr std::uint16_t xloadflags_kernel_64 = 1u << 0; ///< XLF_KERNEL_64
constexpr std::uint8_t loader_type_undefined = 0xff;    ///< type_of_loader: no assigned id
constexpr std::uint16_t vid_mode_normal = 0xffff;       ///< vid_mode "normal"
constexpr std::uint64_t entry_64_offset = 0x200;        ///< 64-bit entry: load address + 0x200
constexpr std::uint64_t max_e820_entries = 128;         ///< E820_MAX_ENTRIES_ZEROPAGE
// boot_params fields outside the setup header (zero-page.rst).
constexpr std::uint64_t ext_ramdisk_image = 0x0c0;
constexpr std::uint64_t ext_ramdisk_size = 0x0c4;
constexpr std::uint64_t ext_cmd_line_ptr = 0x0c8;
constexpr std::uint64_t e820_entries = 0x1e8;
constexpr std::uint64_t e820_table = 0x2d0;
constexpr std::uint64_t e820_entry_size = 20;
// setup_header fields, at their offsets in both the file and boot_params.
constexpr std::uint64_t setup_header_start = 0x1f1;
constexpr std::uint64_t setup_sects = 0x1f1;
constexpr std::uint64_t syssize = 0x1f4;
constexpr std::uint64_t vid_mode = 0x1fa;
constexpr std::uint64_t boot_flag = 0x1fe;
constexpr std::uint64_t jump = 0x200;
constexpr std::uint64_t header = 0x202;
constexpr std::uint64_t version = 0x206;
constexpr std::uint64_t type_of_loader = 0x210;
constexpr std::uint64_t loadflags = 0x211;
constexpr std::uint64_t code32_start = 0x214;
constexpr std::uint64_t ramdisk_image = 0x218;
constexpr std::uint64_t ramdisk_size = 0x21c;
constexpr std::uint64_t cmd_line_ptr = 0x228;
constexpr std::uint64_t initrd_addr_max = 0x22c;
constexpr std::uint64_t kernel_alignment = 0x230;
constexpr std::uint64_t relocatable_kernel = 0x234;
constexpr std::uint64_t xloadflags = 0x236;
constexpr std::uint64_t cmdline_size = 0x238;
constexpr std::uint64_t pref_address = 0x258;
constexpr std::uint64_t init_size = 0x260;
/// boot_params copies the setup header up to here at most (edd_mbr_sig_buffer follows).
constexpr std::uint64_t setup_header_limit = 0x290;
} // namespace linux_boot

/// The longest command line (in bytes, without its NUL) the kernel starting with these bytes
/// accepts: its cmdline_size, capped by Vessel's command-line area. Needs the file's first
/// linux_boot::setup_header_limit bytes.
Result<std::uint64_t> bzimage_command_line_limit(std::span<const std::uint8_t> image_start);

/// Loads a Linux bzImage (boot protocol 2.06 or later) with an optional initrd (empty span =
/// none). The protected-mode kernel goes to 1 MiB (or pref_address for a relocatable kernel
/// when it fits), the initrd as high as initrd_addr_max and low RAM allow. Kernels with
/// XLF_KERNEL_64 are entered in long mode at load address + 0x200 with identity page tables;
/// others in 32-bit protected mode at the load address. RSI holds the boot_params address.
Result<CpuState> load_bzimage(GuestMemory& memory, std::span<const std::uint8_t> image,
                              std::string_view image_path, std::string_view command_line,
                              std::span<const std::uint8_t> initrd, std::string_view initrd_path);

} // namespace vessel::x86
