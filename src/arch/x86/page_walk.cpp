// Side-effect-free page walk for debuggers (Intel SDM Vol. 3, 4.3 32-bit, 4.4 PAE, 4.5 4-level).
#include "arch/x86/page_walk.hpp"

namespace vessel::x86 {

namespace {

constexpr std::uint64_t entry_present = 1u << 0;
constexpr std::uint64_t entry_large = 1u << 7;                 ///< PS: maps a large page
constexpr std::uint64_t entry_address = 0x000f'ffff'ffff'f000; ///< bits 12-51
constexpr std::uint64_t cr4_pse = 1u << 4;                     ///< 4 MiB pages in 32-bit paging

Result<std::uint64_t> read_entry(const GuestMemory& memory, std::uint64_t address, unsigned size,
                                 std::uint64_t linear, const char* level) {
    std::uint64_t entry = 0;
    if (size == 8) {
        entry = TRY_CONTEXT(memory.read<std::uint64_t>(address),
                            fmt::format("{} entry of {:#x}", level, linear));
    } else {
        entry = TRY_CONTEXT(memory.read<std::uint32_t>(address),
                            fmt::format("{} entry of {:#x}", level, linear));
    }
    if (!(entry & entry_present))
        return make_error("linear address {:#x} is not mapped ({} entry at {:#x} not present)",
                          linear, level, address);
    return entry;
}

} // namespace

Result<std::uint64_t> translate_linear(const GuestMemory& memory, const PagingMode& paging,
                                       std::uint64_t linear) {
    if (!(paging.cr0 & cr0::pg)) return linear & 0xffff'ffff;
    if (!(paging.cr4 & cr4::pae)) {
        const std::uint32_t address = static_cast<std::uint32_t>(linear);
        const std::uint64_t directory = TRY(read_entry(
            memory, (paging.cr3 & 0xffff'f000) + ((address >> 22) << 2), 4, linear, "PDE"));
        if ((directory & entry_large) && (paging.cr4 & cr4_pse)) {
            // PSE-36: bits 13-20 of the entry are physical bits 32-39 (Intel SDM Vol. 3, 4.3).
            const std::uint64_t high = ((directory >> 13) & 0xff) << 32;
            return high | (directory & 0xffc0'0000) | (address & 0x3f'ffff);
        }
        const std::uint64_t table =
            TRY(read_entry(memory, (directory & 0xffff'f000) + (((address >> 12) & 0x3ff) << 2), 4,
                           linear, "PTE"));
        return (table & 0xffff'f000) | (address & 0xfff);
    }
    std::uint64_t table_address = 0;
    if (paging.efer & efer::lma) {
        const std::uint64_t pml4 =
            TRY(read_entry(memory, (paging.cr3 & entry_address) + ((linear >> 39) & 0x1ff) * 8, 8,
                           linear, "PML4E"));
        const std::uint64_t pdpt = TRY(read_entry(
            memory, (pml4 & entry_address) + ((linear >> 30) & 0x1ff) * 8, 8, linear, "PDPTE"));
        if (pdpt & entry_large)
            return (pdpt & entry_address & ~std::uint64_t{0x3fff'ffff}) | (linear & 0x3fff'ffff);
        table_address = pdpt & entry_address;
    } else {
        const std::uint64_t pdpt = TRY(read_entry(
            memory, (paging.cr3 & 0xffff'ffe0) + ((linear >> 30) & 3) * 8, 8, linear, "PDPTE"));
        table_address = pdpt & entry_address;
    }
    const std::uint64_t directory =
        TRY(read_entry(memory, table_address + ((linear >> 21) & 0x1ff) * 8, 8, linear, "PDE"));
    if (directory & entry_large)
        return (directory & entry_address & ~std::uint64_t{0x1f'ffff}) | (linear & 0x1f'ffff);
    const std::uint64_t table = TRY(read_entry(
        memory, (directory & entry_address) + ((linear >> 12) & 0x1ff) * 8, 8, linear, "PTE"));
    return (table & entry_address) | (linear & 0xfff);
}

} // namespace vessel::x86
