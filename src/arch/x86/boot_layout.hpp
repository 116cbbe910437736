// Guest-physical addresses Vessel uses while booting a guest, in one table.
#pragma once

#include <cstdint>

namespace vessel::x86::boot_layout {

// ---- Below 1 MiB: the PC's conventional memory and BIOS areas ----

/// Real-mode interrupt vector table and BIOS data area; Vessel never writes there.
constexpr std::uint64_t bios_data_area_end = 0x500;
/// Boot GDT (up to 8 descriptors) and the TSS its TR points at.
constexpr std::uint64_t boot_gdt_address = 0x500;
constexpr std::uint64_t boot_gdt_max_size = 0x40;
constexpr std::uint64_t boot_tss_address = 0x580;
constexpr std::uint64_t boot_tss_size = 0x68; ///< 104-byte TSS (Intel SDM Vol. 3, 8.2.1)
/// Linux boot_params ("zero page", Documentation/arch/x86/zero-page.rst).
constexpr std::uint64_t zero_page_address = 0x7000;
constexpr std::uint64_t zero_page_size = 0x1000;
/// Initial stack pointer for 64-bit Linux entry (the kernel sets up its own at once).
constexpr std::uint64_t boot_stack_pointer = 0x8ff0;
/// Identity-mapping page tables for 64-bit entry: PML4, PDPT, then four page directories
/// of 2 MiB pages covering 0-4 GiB.
constexpr std::uint64_t pml4_address = 0x9000;
constexpr std::uint64_t pdpt_address = 0xa000;
constexpr std::uint64_t page_directory_address = 0xb000;
constexpr std::uint64_t page_directory_count = 4;
constexpr std::uint64_t page_tables_end = page_directory_address + page_directory_count * 0x1000;
/// Multiboot info structures are placed by first fit from here, below the EBDA.
constexpr std::uint64_t multiboot_info_area_start = 0x1000;
/// Linux kernel command line.
constexpr std::uint64_t command_line_address = 0x20000;
constexpr std::uint64_t command_line_capacity = 0x10000; ///< including the terminating NUL

/// End of usable conventional memory: the EBDA starts here (639 KiB), as on a PC.
constexpr std::uint64_t ebda_start = 0x9fc00;
/// Legacy VGA window and option ROMs; not RAM on a PC.
constexpr std::uint64_t vga_start = 0xa0000;
/// BIOS area where ACPI tables and the RSDP will be built (the RSDP must be found by scanning
/// 0xE0000-0xFFFFF on a 16-byte boundary, ACPI 6.5 section 5.2.5.1).
constexpr std::uint64_t acpi_tables_start = 0xe0000;
constexpr std::uint64_t acpi_tables_end = 0x100000;
/// Everything from the EBDA to 1 MiB is reported reserved in the memory map.
constexpr std::uint64_t reserved_low_start = ebda_start;
constexpr std::uint64_t reserved_low_end = 0x100000;

// ---- From 1 MiB ----

/// Start of "upper memory" (Multiboot mem_upper counts from here).
constexpr std::uint64_t high_memory_start = 0x100000;
/// Default protected-mode kernel load address for a bzImage (boot.rst, code32_start).
constexpr std::uint64_t linux_kernel_default_address = 0x100000;

} // namespace vessel::x86::boot_layout
