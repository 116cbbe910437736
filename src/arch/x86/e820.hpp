// The guest's physical memory map (e820), shared by the Linux and Multiboot loaders.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/guest_memory.hpp"

namespace vessel::x86 {

/// Address range types (ACPI 6.5, 15.1 "AddressRangeMemory" etc.; Linux e820 types).
enum class E820Type : std::uint32_t {
    ram = 1,      ///< usable by the OS
    reserved = 2, ///< in use or reserved by the platform
    acpi = 3,     ///< ACPI reclaimable
    nvs = 4,      ///< ACPI non-volatile storage
    unusable = 5, ///< known bad memory
};

/// One memory-map entry: [address, address + size).
struct E820Entry {
    std::uint64_t address;
    std::uint64_t size;
    E820Type type;

    std::uint64_t end() const { return address + size; }
};

/// The guest's RAM from GuestMemory::regions(), sorted by address, with the PC's low reserved
/// area (EBDA, VGA, ROMs, BIOS/ACPI area: boot_layout reserved_low_*) cut out and listed as
/// reserved. The 32-bit MMIO hole is not RAM and is not listed.
std::vector<E820Entry> build_e820_map(const GuestMemory& memory);

/// The end of the RAM region starting at guest-physical 0 (at most 3 GiB).
std::uint64_t low_ram_end(const GuestMemory& memory);

} // namespace vessel::x86
