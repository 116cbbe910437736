// Identity-mapping page tables (2 MiB pages, first 4 GiB) for 64-bit boot.
#include "arch/x86/boot_page_tables.hpp"

#include "arch/x86/boot_layout.hpp"

namespace vessel::x86 {

Result<std::uint64_t> write_identity_page_tables(GuestMemory& memory) {
    using namespace boot_layout;
    constexpr std::uint64_t table_flags = page_entry::present | page_entry::writable;
    constexpr std::uint64_t two_mib = std::uint64_t{1} << 21;
    TRY(memory.fill(pml4_address, 0, page_tables_end - pml4_address));
    TRY(memory.write<std::uint64_t>(pml4_address, pdpt_address | table_flags));
    for (std::uint64_t directory = 0; directory < page_directory_count; ++directory) {
        auto directory_address = page_directory_address + directory * 0x1000;
        TRY(memory.write<std::uint64_t>(pdpt_address + directory * 8,
                                        directory_address | table_flags));
        for (std::uint64_t entry = 0; entry < 512; ++entry) {
            auto physical = (directory * 512 + entry) * two_mib;
            TRY(memory.write<std::uint64_t>(directory_address + entry * 8,
                                            physical | table_flags | page_entry::page_size));
        }
    }
    return pml4_address;
}

} // namespace vessel::x86
