// CpuCore memory path: paging walks, the software TLB, physical RAM/APIC/MMIO access, stack, ports.
#include <fmt/format.h>

#include "arch/x86/canonical.hpp"
#include "engine/soft/cpu_core.hpp"
#include "engine/soft/cpuid_policy.hpp"
#include "engine/soft/protection_bits.hpp"
#include "engine/soft/soft_debugger.hpp"
#include "engine/soft/soft_platform.hpp"

namespace vessel::soft {

namespace {

/// Paging-structure entry bits (Intel SDM Vol. 3, 4.3-4.5).
constexpr std::uint64_t pte_present = 1u << 0;
constexpr std::uint64_t pte_writable = 1u << 1;
constexpr std::uint64_t pte_user = 1u << 2;
constexpr std::uint64_t pte_accessed = 1u << 5;
constexpr std::uint64_t pte_dirty = 1u << 6;
constexpr std::uint64_t pte_large = 1u << 7;
constexpr std::uint64_t pte_global = 1u << 8;
constexpr std::uint64_t pte_no_execute = std::uint64_t{1} << 63;
constexpr std::uint64_t pte_address = 0x000f'ffff'ffff'f000; ///< 52-bit physical addresses
/// Bit 12 of a large-page entry is its PAT bit, not an address bit (Intel SDM Vol. 3, 4.4-4.5).
constexpr std::uint64_t large_page_pat = 1u << 12;
/// 32-bit paging: bit 21 of a 4 MiB PDE is reserved (Intel SDM Vol. 3, table 4-4).
constexpr std::uint64_t large_4m_reserved = 1u << 21;
/// PAE PDPTE bits 2:1 and 8:5 are reserved (Intel SDM Vol. 3, table 4-8).
constexpr std::uint64_t pae_pdpte_reserved = 0x1e6;

/// IA32_APIC_BASE bits (Intel SDM Vol. 3, 10.4.4).
constexpr std::uint64_t apic_base_enable = 1u << 11;
constexpr std::uint64_t apic_base_x2apic = 1u << 10;

} // namespace

CpuCore::CpuCore(GuestMemory& memory, Bus& io_bus, Bus& mmio_bus, SoftPlatform* platform,
                 CodePages& code_pages, std::uint32_t index)
    : m_memory(memory), m_io_bus(io_bus), m_mmio_bus(mmio_bus), m_platform(platform),
      m_code_pages(code_pages), m_index(index), m_ram_base(memory.host_base()) {
    set_cpu_model(default_cpu_model());
    update_mode();
}

void CpuCore::set_cpu_count(std::uint32_t count) {
    cpu_count = count;
    cpuid_table = cpuid_entries(m_index, count, cpu_model);
    // CPUID 0x80000008:EAX[7:0] is MAXPHYADDR, which bounds paging-entry addresses.
    const x86::CpuidEntry sizes = x86::find_cpuid_entry(cpuid_table, 0x8000'0008, 0);
    if (sizes.function == 0x8000'0008 && (sizes.eax & 0xff) >= 32 && (sizes.eax & 0xff) <= 52)
        physical_address_bits = sizes.eax & 0xff;
}

void CpuCore::set_cpu_model(CpuModel model) {
    cpu_model = model;
    isa_features = model_features(model);
    set_cpu_count(cpu_count);
}

void CpuCore::flush_tlb(bool include_global) {
    ++fetch_epoch;
    if (include_global) ++global_fetch_epoch;
    jit.tlb.flush();
    m_tlb.flush(include_global);
}

void CpuCore::flush_tlb_page(std::uint64_t address) {
    ++fetch_epoch;
    ++global_fetch_epoch;
    jit.tlb.flush_page(address);
    m_tlb.flush_page(address >> 12);
}

void CpuCore::page_fault(std::uint64_t address, std::uint32_t error_code) {
    cr2 = address;
    raise(x86::vector::page_fault, error_code);
}

std::uint64_t CpuCore::walk(std::uint64_t address, AccessKind kind, bool user, bool* global) {
    namespace fault = x86::page_fault_error;
    *global = false;
    if (!paging()) return long_mode_active() ? address : (address & 0xffff'ffff);
    if (long_mode_active() && !x86::is_canonical(address))
        raise(x86::vector::general_protection, 0);

    const bool nx_enabled = (efer & x86::efer::nxe) != 0;
    // I/D is reported for fetches when NX or SMEP can refuse them (Intel SDM Vol. 3, 4.7).
    const bool report_fetch = nx_enabled || (cr4 & protection::cr4_smep);
    const std::uint32_t error = (kind == access_write ? fault::write : 0) |
                                (user ? fault::user : 0) |
                                (kind == access_execute && report_fetch ? fault::fetch : 0);
    const std::uint32_t reserved_error = error | fault::present | fault::reserved;
    bool writable = true, user_page = true, no_execute = false;
    // The entries of the walk: their Accessed bits are set only once it succeeded, so an access
    // that faults leaves the tables as they were.
    struct Visited {
        std::uint64_t location;
        std::uint64_t entry;
        unsigned size;
    };
    Visited visited[4];
    unsigned visited_count = 0;
    std::uint64_t entry = 0, physical = 0;

    auto visit = [&](std::uint64_t location, unsigned entry_size, std::uint64_t reserved) {
        entry = physical_read(location, entry_size);
        if (!(entry & pte_present)) page_fault(address, error);
        if (entry & reserved) page_fault(address, reserved_error);
        writable &= (entry & pte_writable) != 0;
        user_page &= (entry & pte_user) != 0;
        no_execute |= (entry & pte_no_execute) != 0 && entry_size == 8;
        visited[visited_count++] = {location, entry, entry_size};
    };

    if (!(cr4 & x86::cr4::pae)) {
        // 32-bit paging (Intel SDM Vol. 3, 4.3): bit 21 of a 4 MiB PDE is reserved.
        visit((cr3 & 0xffff'f000) + ((address >> 22) & 0x3ff) * 4, 4, 0);
        if ((entry & pte_large) && (cr4 & x86::cr4::pse)) {
            if (entry & large_4m_reserved) page_fault(address, reserved_error);
            physical = (entry & 0xffc0'0000) | (address & 0x3f'ffff);
        } else {
            visit((entry & 0xffff'f000) + ((address >> 12) & 0x3ff) * 4, 4, 0);
            physical = (entry & 0xffff'f000) | (address & 0xfff);
        }
    } else {
        // Address bits at or above MAXPHYADDR are reserved, and so is XD without EFER.NXE; PAE
        // entries reserve bits 62:52 too, which 4-level paging ignores (Intel SDM Vol. 3, 4.4-4.5).
        const std::uint64_t above_maximum = ~((std::uint64_t{1} << physical_address_bits) - 1) &
                                            (long_mode_active() ? pte_address : ~pte_no_execute);
        const std::uint64_t reserved = above_maximum | (nx_enabled ? 0 : pte_no_execute);
        std::uint64_t table;
        int level;
        if (long_mode_active()) {
            table = cr3 & pte_address;
            level = 4;
        } else {
            // PAE: the four PDPTEs carry no permission bits (Intel SDM Vol. 3, 4.4.1).
            const std::uint64_t pdpte =
                physical_read((cr3 & 0xffff'ffe0) + ((address >> 30) & 3) * 8, 8);
            if (!(pdpte & pte_present)) page_fault(address, error);
            if (pdpte & (above_maximum | pte_no_execute | pae_pdpte_reserved))
                page_fault(address, reserved_error);
            table = pdpte & pte_address;
            level = 2;
        }
        for (;; --level) {
            const unsigned shift = 12 + 9 * (level - 1);
            visit(table + ((address >> shift) & 0x1ff) * 8, 8,
                  reserved | (level == 4 ? pte_large : 0));
            if (level == 1 || ((entry & pte_large) && level <= 3)) {
                const std::uint64_t page_mask = (std::uint64_t{1} << shift) - 1;
                // A large page's address bits below its size are reserved, but bit 12 (PAT).
                if (level > 1 && (entry & page_mask & ~std::uint64_t{0xfff} & ~large_page_pat))
                    page_fault(address, reserved_error);
                physical = ((entry & pte_address) & ~page_mask) | (address & page_mask);
                break;
            }
            table = entry & pte_address;
        }
    }

    check_permissions(address, kind, user, entry, writable, user_page, no_execute,
                      error | fault::present);
    for (unsigned i = 0; i < visited_count; ++i)
        if (!(visited[i].entry & pte_accessed))
            physical_write(visited[i].location, visited[i].size, visited[i].entry | pte_accessed);
    const Visited& leaf = visited[visited_count - 1];
    if (kind == access_write && !(leaf.entry & pte_dirty))
        physical_write(leaf.location, leaf.size, leaf.entry | pte_dirty | pte_accessed);
    *global = (entry & pte_global) && (cr4 & x86::cr4::pge);
    return physical;
}

void CpuCore::check_permissions(std::uint64_t address, AccessKind kind, bool user,
                                std::uint64_t leaf, bool writable, bool user_page, bool no_execute,
                                std::uint32_t error) {
    const bool write_protect = user || (cr0 & x86::cr0::wp);
    if (user && !user_page) page_fault(address, error);
    if (kind == access_write && !writable && write_protect) page_fault(address, error);
    if (kind == access_execute) {
        if (no_execute && (efer & x86::efer::nxe)) page_fault(address, error);
        // SMEP: supervisor fetches from user pages (Intel SDM Vol. 3, 4.6.1).
        if (!user && user_page && (cr4 & protection::cr4_smep)) page_fault(address, error);
        return;
    }
    if (!user_page) return;
    // SMAP: supervisor data accesses to user pages, unless explicit ones with RFLAGS.AC set.
    if (!user && (cr4 & protection::cr4_smap)) {
        if (m_implicit_access || !(rflags & x86::rflags::ac)) page_fault(address, error);
        open_user_window(address >> 12);
    }
    // Protection keys of user pages, for accesses at any privilege (Intel SDM Vol. 3, 4.6.2).
    if ((cr4 & protection::cr4_pke) && long_mode_active()) {
        const unsigned key = (leaf >> protection::protection_key_shift) & 0xf;
        const bool access_disabled = (pkru >> (2 * key)) & 1;
        const bool write_disabled = (pkru >> (2 * key + 1)) & 1;
        if (access_disabled || (kind == access_write && write_disabled && write_protect))
            page_fault(address, error | protection::page_fault_protection_key);
    }
}

void CpuCore::open_user_window(std::uint64_t page) {
    if (m_user_window_count < max_user_windows) m_user_windows[m_user_window_count] = page;
    if (m_user_window_count <= max_user_windows) ++m_user_window_count;
}

void CpuCore::close_user_windows() {
    if (m_user_window_count > max_user_windows) {
        m_user_window_count = 0;
        flush_tlb(true);
        return;
    }
    for (unsigned i = 0; i < m_user_window_count; ++i) {
        m_tlb.flush_data_page(false, m_user_windows[i]);
        jit.tlb.flush_page(m_user_windows[i] << 12);
    }
    m_user_window_count = 0;
}

std::uint8_t* CpuCore::ram_page(std::uint64_t physical_page) {
    const std::uint64_t base = m_platform->apic_base(m_index);
    if ((base & apic_base_enable) && !(base & apic_base_x2apic) &&
        ((base & pte_address) >> 12) == physical_page)
        return nullptr;
    return m_memory.host_pointer(physical_page << 12, 4096);
}

TlbEntry& CpuCore::fill_tlb(std::uint64_t address, AccessKind kind, bool user) {
    bool global = false;
    const std::uint64_t physical = walk(address, kind, user, &global);
    const std::uint64_t page = address >> 12;
    TlbEntry& entry = m_tlb.entry(user, kind, page);
    entry.tag = page;
    entry.physical_page = physical >> 12;
    entry.host = ram_page(physical >> 12);
    entry.global = global;
    // Dirty logging: a page is marked before any write entry for it exists, so stores that hit
    // the entry later (interpreter or translated code) need no check of their own.
    if (kind == access_write && entry.host != nullptr)
        m_memory.dirty_pages().mark(static_cast<std::uint64_t>(entry.host - m_ram_base) >> 12);
    if ((access_watcher != nullptr || data_breakpoints != 0) && kind != access_execute) [[unlikely]]
        entry.tag = ~std::uint64_t{0}; // used once: the next access is seen too
    return entry;
}

std::uint8_t* CpuCore::jit_host_address(std::uint64_t address, unsigned size, bool write, bool user,
                                        bool own_mapping) noexcept {
    if ((address & 0xfff) + size > 4096) return nullptr;
    try {
        const AccessKind kind = write ? access_write : access_read;
        const TlbEntry& cached = m_tlb.entry(user, kind, address >> 12);
        const TlbEntry& entry =
            cached.tag == address >> 12 ? cached : fill_tlb(address, kind, user);
        if (entry.host == nullptr) return nullptr;
        const auto ram_page_index = static_cast<std::uint64_t>(entry.host - m_ram_base) >> 12;
        if (write && m_code_pages.holds_code(ram_page_index)) return nullptr;
        const std::uint64_t page_address = address & ~std::uint64_t{0xfff};
        const auto slot = static_cast<unsigned>((address >> 12) % JitTlb::size);
        std::uint8_t* host = entry.host + (address & 0xfff);
        unsigned table = user ? JitTlb::user : JitTlb::kernel;
        if (user && m_page_aliases != nullptr) {
            const int way = alias_way(page_address, entry.host);
            // Refused: served without a fast entry, in RAM's own mapping; an aliased access
            // (gs:[r14d]) cannot take that address, so the interpreter runs it.
            if (way < 0) return own_mapping ? host : nullptr;
            table += static_cast<unsigned>(way);
            // As a hit of the aliased lookup gives it: the linear address, for gs:[r14d].
            if (!own_mapping) host = reinterpret_cast<std::uint8_t*>(address);
        }
        JitTlbEntry& fast = jit.tlb.entries[table][write][slot];
        // A valid entry was tracked when it was filled (flushes start the list over).
        if (!JitTlbEntry::valid(fast.tag)) jit.tlb.filled(table, write, slot);
        fast.tag = page_address;
        fast.host_page = reinterpret_cast<std::uintptr_t>(entry.host);
        return host;
    } catch (const GuestFault&) {
        return nullptr; // the interpreter repeats the access and raises the fault precisely
    }
}

int CpuCore::alias_way(std::uint64_t page_address, std::uint8_t* host_page) {
    PageAliases& aliases = *m_page_aliases;
    const auto offset = static_cast<std::uint64_t>(host_page - m_ram_base);
    const unsigned slot = PageAliases::slot_of(page_address);
    const std::uint32_t position = PageAliases::position_of(page_address);
    aliases.count_fill();
    for (unsigned way = 0; way < PageAliases::ways; ++way)
        if (aliases.maps(way, page_address, offset)) return static_cast<int>(way);
    // One position, one slot: a way that holds it (for another page with these low 32 bits,
    // or another frame of this one) is the only one that may take it.
    const int holder = aliases.way_at(page_address);
    for (unsigned way = 0; way < PageAliases::ways; ++way) {
        if (holder >= 0 && way != static_cast<unsigned>(holder)) continue;
        if (!aliases.may_move(way, slot)) continue;
        // Nor while an access group's members reach the page there through gs (the pins).
        bool pinned = false;
        for (const std::uint64_t pin : jit.alias_pins)
            pinned |= pin != JitContext::no_pin && PageAliases::slot_of(pin) == slot &&
                      aliases.way_at(pin) == static_cast<int>(way);
        if (pinned) continue;
        // The slot changes page: an entry of its way naming another goes (and with the slot
        // unmapped, when the host refuses the mapping, every entry of it).
        const bool mapped = aliases.map(way, page_address, offset);
        for (auto& kind : jit.tlb.entries[JitTlb::user + way]) {
            JitTlbEntry& entry = kind[slot];
            if (!mapped || entry.host_page != reinterpret_cast<std::uintptr_t>(host_page) ||
                PageAliases::position_of(entry.tag) != position)
                jit.tlb.invalidate(entry, slot);
        }
        return mapped ? static_cast<int>(way) : -1;
    }
    aliases.count_refusal(); // the ways moved just now: the slots and their entries stay
    return -1;
}

void CpuCore::set_page_aliases(std::unique_ptr<PageAliases> aliases) {
    static_assert(PageAliases::slot_count == JitTlb::size, "a slot per user JIT TLB entry");
    for (unsigned table : {JitTlb::user, JitTlb::user_second_way})
        for (auto& kind : jit.tlb.entries[table])
            for (unsigned slot = 0; slot < JitTlb::size; ++slot)
                jit.tlb.invalidate(kind[slot], slot); // entries made without aliases
    m_page_aliases = std::move(aliases);
    static_assert(PageAliases::ways == 2, "the second-way table");
}

std::uint64_t CpuCore::translate(std::uint64_t address, AccessKind kind, bool user) {
    const std::uint64_t page = address >> 12;
    const TlbEntry& cached = m_tlb.entry(user, kind, page);
    if (cached.tag == page) return (cached.physical_page << 12) | (address & 0xfff);
    const TlbEntry& entry = fill_tlb(address, kind, user);
    return (entry.physical_page << 12) | (address & 0xfff);
}

std::uint8_t* CpuCore::fetch_pointer(std::uint64_t address, std::uint64_t* ram_offset,
                                     bool* global) {
    const std::uint64_t page = address >> 12;
    const bool user = cpl == 3;
    TlbEntry* entry = &m_tlb.entry(user, access_execute, page);
    if (entry->tag != page) entry = &fill_tlb(address, access_execute, user);
    if (entry->host == nullptr)
        fail(fmt::format("instruction fetch at rip {:#x} from physical {:#x}, which is not RAM",
                         address, entry->physical_page << 12));
    *ram_offset = static_cast<std::uint64_t>(entry->host - m_ram_base) + (address & 0xfff);
    if (global != nullptr) *global = entry->global;
    return entry->host + (address & 0xfff);
}

std::uint64_t CpuCore::read_slow(std::uint64_t address, unsigned size, bool user) {
    if (access_watcher != nullptr) [[unlikely]]
        access_watcher->note_access(address, size, false);
    if (data_breakpoints != 0) [[unlikely]]
        note_data_access(address, size, false);
    const std::uint64_t offset = address & 0xfff;
    if (offset + size <= 4096) {
        const TlbEntry& entry = fill_tlb(address, access_read, user);
        if (entry.host != nullptr) {
            std::uint64_t value = 0;
            std::memcpy(&value, entry.host + offset, size);
            return value;
        }
        return physical_read((entry.physical_page << 12) | offset, size);
    }
    // Split across two pages: translate both before touching either.
    const unsigned first = static_cast<unsigned>(4096 - offset);
    std::uint64_t second_address = address + first;
    if (!long_mode_active()) second_address &= 0xffff'ffff;
    const std::uint64_t low = translate(address, access_read, user);
    const std::uint64_t high = translate(second_address, access_read, user);
    std::uint64_t value = 0;
    for (unsigned i = 0; i < size; ++i) {
        const std::uint64_t physical = i < first ? low + i : high + (i - first);
        value |= physical_read(physical, 1) << (8 * i);
    }
    return value;
}

void CpuCore::write_slow(std::uint64_t address, unsigned size, std::uint64_t value, bool user) {
    if (access_watcher != nullptr) [[unlikely]]
        access_watcher->note_access(address, size, true);
    if (data_breakpoints != 0) [[unlikely]]
        note_data_access(address, size, true);
    const std::uint64_t offset = address & 0xfff;
    if (offset + size <= 4096) {
        const TlbEntry& entry = fill_tlb(address, access_write, user);
        if (entry.host != nullptr) {
            std::memcpy(entry.host + offset, &value, size);
            note_ram_write(entry.host + offset);
            return;
        }
        physical_write((entry.physical_page << 12) | offset, size, value);
        return;
    }
    const unsigned first = static_cast<unsigned>(4096 - offset);
    std::uint64_t second_address = address + first;
    if (!long_mode_active()) second_address &= 0xffff'ffff;
    const std::uint64_t low = translate(address, access_write, user);
    const std::uint64_t high = translate(second_address, access_write, user);
    for (unsigned i = 0; i < size; ++i) {
        const std::uint64_t physical = i < first ? low + i : high + (i - first);
        physical_write(physical, 1, (value >> (8 * i)) & 0xff);
    }
}

void CpuCore::read_block(std::uint64_t address, void* out, unsigned length) {
    auto* bytes = static_cast<std::uint8_t*>(out);
    unsigned done = 0;
    while (done < length) {
        const unsigned chunk = length - done >= 8 && ((address + done) & 0xfff) <= 4088 ? 8 : 1;
        const std::uint64_t value = chunk == 8 ? read<8>(address + done) : read<1>(address + done);
        std::memcpy(bytes + done, &value, chunk);
        done += chunk;
    }
}

void CpuCore::write_block(std::uint64_t address, const void* data, unsigned length) {
    // Probe both ends first so a fault leaves memory untouched.
    if (length > 0) {
        translate(address, access_write, m_user_access);
        translate(address + length - 1, access_write, m_user_access);
    }
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    unsigned done = 0;
    while (done < length) {
        const unsigned chunk = length - done >= 8 && ((address + done) & 0xfff) <= 4088 ? 8 : 1;
        std::uint64_t value = 0;
        std::memcpy(&value, bytes + done, chunk);
        if (chunk == 8)
            write<8>(address + done, value);
        else
            write<1>(address + done, value);
        done += chunk;
    }
}

std::uint8_t* CpuCore::page_pointer(std::uint64_t address, unsigned size, AccessKind kind) {
    if (access_watcher != nullptr) [[unlikely]]
        access_watcher->note_access(address, size, kind == access_write);
    if (data_breakpoints != 0) [[unlikely]]
        note_data_access(address, size, kind == access_write);
    if ((address & 0xfff) + size > 4096) return nullptr;
    const std::uint64_t page = address >> 12;
    TlbEntry* entry = &m_tlb.entry(m_user_access, kind, page);
    if (entry->tag != page) entry = &fill_tlb(address, kind, m_user_access);
    if (entry->host == nullptr) return nullptr;
    return entry->host + (address & 0xfff);
}

std::uint8_t* CpuCore::writable_pointer(std::uint64_t address, unsigned size) {
    return page_pointer(address, size, access_write);
}

const std::uint8_t* CpuCore::readable_pointer(std::uint64_t address, unsigned size) {
    return page_pointer(address, size, access_read);
}

std::uint64_t CpuCore::physical_read(std::uint64_t address, unsigned size) {
    if (const std::uint8_t* host = m_memory.host_pointer(address, size)) {
        std::uint64_t value = 0;
        std::memcpy(&value, host, size);
        return value;
    }
    const std::uint64_t base = m_platform->apic_base(m_index);
    if ((base & apic_base_enable) && !(base & apic_base_x2apic) &&
        (address & pte_address) == (base & pte_address)) {
        const auto offset = static_cast<std::uint32_t>(address & 0xfff);
        const std::uint64_t value = m_platform->apic_mmio_read(m_index, offset & ~3u);
        return (value >> (8 * (offset & 3))) & size_mask(size);
    }
    std::uint8_t data[8] = {};
    m_mmio_bus.read(address, {data, size});
    std::uint64_t value = 0;
    std::memcpy(&value, data, size);
    return value;
}

void CpuCore::physical_write(std::uint64_t address, unsigned size, std::uint64_t value) {
    if (std::uint8_t* host = m_memory.host_pointer(address, size)) {
        std::memcpy(host, &value, size);
        m_memory.dirty_pages().mark(static_cast<std::uint64_t>(host - m_ram_base) >> 12);
        note_ram_write(host);
        return;
    }
    const std::uint64_t base = m_platform->apic_base(m_index);
    if ((base & apic_base_enable) && !(base & apic_base_x2apic) &&
        (address & pte_address) == (base & pte_address)) {
        m_platform->apic_mmio_write(m_index, static_cast<std::uint32_t>(address & 0xffc),
                                    static_cast<std::uint32_t>(value));
        return;
    }
    std::uint8_t data[8] = {};
    std::memcpy(data, &value, size);
    m_mmio_bus.write(address, {data, size});
}

void CpuCore::push(std::uint64_t value, unsigned size) {
    const std::uint64_t sp = (stack_pointer() - size) & size_mask(stack_size());
    write_sized(linear(ss, sp), size, value);
    set_stack_pointer(sp);
}

std::uint64_t CpuCore::pop(unsigned size) {
    const std::uint64_t sp = stack_pointer();
    const std::uint64_t value = read_sized(linear(ss, sp), size);
    set_stack_pointer(sp + size);
    return value;
}

void CpuCore::set_reg_sized(unsigned size, unsigned index, std::uint64_t value) {
    switch (size) {
    case 1:
        set_reg<1>(index, value);
        break;
    case 2:
        set_reg<2>(index, value);
        break;
    case 4:
        set_reg<4>(index, value);
        break;
    default:
        set_reg<8>(index, value);
        break;
    }
}

void CpuCore::check_io_privilege(std::uint16_t port, unsigned size) {
    if (!protected_mode() || cpl <= ((rflags >> 12) & 3)) return;
    // Intel SDM Vol. 1, 19.5.2: the I/O map base is the 16-bit field at TSS offset 102; the
    // bits of every accessed port must be clear, and the two bytes read must lie within the TSS.
    constexpr std::uint8_t tss_available = 9, tss_busy = 11; // 32-bit or 64-bit TSS types
    constexpr std::uint32_t io_map_base_offset = 102;
    const bool usable_tss =
        !tr.unusable && tr.system && (tr.type == tss_available || tr.type == tss_busy);
    if (!usable_tss || tr.limit < io_map_base_offset + 1) raise(x86::vector::general_protection, 0);
    const auto map_base = static_cast<std::uint32_t>(read_system<2>(tr.base + io_map_base_offset));
    const std::uint32_t byte = map_base + port / 8u;
    if (byte + 1 > tr.limit) raise(x86::vector::general_protection, 0);
    const std::uint64_t bits = read_system<2>(tr.base + byte);
    const std::uint64_t wanted = ((std::uint64_t{1} << size) - 1) << (port % 8u);
    if (bits & wanted) raise(x86::vector::general_protection, 0);
}

std::uint64_t CpuCore::port_in(std::uint16_t port, unsigned size) {
    std::uint8_t data[4] = {};
    m_io_bus.read(port, {data, size});
    std::uint32_t value = 0;
    std::memcpy(&value, data, size);
    return value;
}

void CpuCore::port_out(std::uint16_t port, unsigned size, std::uint64_t value) {
    std::uint8_t data[4] = {};
    std::memcpy(data, &value, size);
    m_io_bus.write(port, {data, size});
}

} // namespace vessel::soft
