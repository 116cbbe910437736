// Identity-mapping page tables for entering a guest directly in 64-bit long mode.
#pragma once

#include <cstdint>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::x86 {

/// Page-table entry bits (Intel SDM Vol. 3, 4.5, tables 4-15 to 4-18).
namespace page_entry {
constexpr std::uint64_t present = 1u << 0;
constexpr std::uint64_t writable = 1u << 1;
constexpr std::uint64_t page_size = 1u << 7; ///< PS: this PDE maps a 2 MiB page
} // namespace page_entry

/// Writes a PML4, a PDPT and page directories of 2 MiB pages mapping virtual = physical for
/// 0-4 GiB at boot_layout's page-table addresses (no 1 GiB pages: the software CPU need not
/// support them). Returns the CR3 value.
Result<std::uint64_t> write_identity_page_tables(GuestMemory& memory);

} // namespace vessel::x86
