// JitContext: the part of a software vCPU's state that translated code reads and writes.
#pragma once

#include <cstdint>
#include <exception>

#include "arch/x86/canonical.hpp"

namespace vessel::soft {

/// One entry of the translator's software TLB. Generated code compares the linear address with
/// `tag`: within 4096 minus the access size above it is a hit (so a page-crossing access
/// misses), and the offset plus `host_page` is the host address (page aliases: the address's
/// own position in the alias window).
struct JitTlbEntry {
    /// An empty entry's tag: a non-canonical page (no valid entry's tag is one, so no
    /// non-canonical address ever hits a valid entry) whose slot bits, 12-23, name the next
    /// slot. An address that indexes slot `slot` has its slot bits, so it never matches its
    /// slot's empty entry either: a non-canonical address misses and the interpreter raises #GP.
    static constexpr std::uint64_t invalid_tag(unsigned slot) {
        return (std::uint64_t{1} << 63) | (std::uint64_t{(slot + 1) & 0xfff} << 12);
    }
    /// A filled entry's tag: canonical (bits 48-63 copies of bit 47).
    static constexpr bool valid(std::uint64_t tag) { return x86::is_canonical(tag); }
    std::uint64_t tag{invalid_tag(0)}; ///< linear page address (low 12 bits zero)
    std::uint64_t host_page{0};        ///< host address of the page's first byte
};
static_assert(sizeof(JitTlbEntry) == 16, "generated code indexes entries with a shift of 4");

/// Linear page -> host page for RAM the translated code may touch directly. Kept apart from the
/// interpreter's TLB: write entries exist only for pages that hold no decoded code, so a store
/// through the fast path can never leave a stale translation behind.
struct JitTlb {
    static constexpr unsigned size = 4096;
    static constexpr unsigned entry_shift = 4;
    /// Tables: kernel, user, and user_second_way, which only user code with page aliases uses
    /// (PageAliases' second way: its entries name the pages that way's slots map).
    static constexpr unsigned kernel = 0, user = 1, user_second_way = 2;
    JitTlbEntry entries[3][2][size]; ///< [table][0 read, 1 write][page % size]

    JitTlb() {
        for (auto& privilege : entries)
            for (auto& kind : privilege)
                for (unsigned slot = 0; slot < size; ++slot)
                    invalidate(kind[slot], slot);
    }
    JitTlb(const JitTlb&) = delete; // entries point into this one's poison page
    JitTlb& operator=(const JitTlb&) = delete;

    /// Empties entry `slot` of a table. Its host page becomes this TLB's poison page: a site
    /// that guesses its entry (JitTlbHint) checks an address against an entry of another
    /// slot, which a non-canonical address can match; such an access reaches these 4 KiB of
    /// the vCPU's own, never guest RAM or another vCPU's.
    void invalidate(JitTlbEntry& entry, unsigned slot) {
        entry.tag = JitTlbEntry::invalid_tag(slot);
        entry.host_page = reinterpret_cast<std::uintptr_t>(&m_poison[0]);
    }
    /// Remembers a filled entry, so that a flush (every CR3 write) touches only those. Called
    /// when an empty entry is filled (a valid one refilled is on the list already).
    void filled(unsigned table, bool write, unsigned slot) {
        if (m_filled_count < max_tracked)
            m_filled[m_filled_count] =
                static_cast<std::uint16_t>((table << 13) | (write << 12) | slot);
        ++m_filled_count;
    }
    void flush() {
        ++m_full_flushes;
        if (m_filled_count > max_tracked) {
            for (auto& privilege : entries)
                for (auto& kind : privilege)
                    for (unsigned slot = 0; slot < size; ++slot)
                        invalidate(kind[slot], slot);
        } else {
            for (unsigned i = 0; i < m_filled_count; ++i)
                invalidate(slot_of(m_filled[i]), m_filled[i] & (size - 1));
        }
        m_filled_count = 0;
    }
    void flush_writes() {
        for_each_write_entry(
            [this](JitTlbEntry& entry, unsigned slot) { invalidate(entry, slot); });
    }
    /// Calls `visit(entry, slot)` with every write entry that may be valid: the tracked ones
    /// (filled since the last flush), or all of them once more were filled than are tracked.
    template <typename Visit> void for_each_write_entry(Visit visit) {
        if (m_filled_count > max_tracked) {
            for (auto& privilege : entries)
                for (unsigned slot = 0; slot < size; ++slot)
                    visit(privilege[1][slot], slot);
        } else {
            for (unsigned i = 0; i < m_filled_count; ++i)
                if (m_filled[i] & (1u << 12)) visit(slot_of(m_filled[i]), m_filled[i] & (size - 1));
        }
    }
    void flush_page(std::uint64_t linear) {
        m_flushed_pages[m_page_flushes % page_log_size] = linear >> 12;
        ++m_page_flushes;
        const std::uint64_t tag = linear & ~std::uint64_t{0xfff};
        const auto slot = static_cast<unsigned>((linear >> 12) % size);
        for (auto& privilege : entries)
            for (auto& kind : privilege)
                if (kind[slot].tag == tag) invalidate(kind[slot], slot);
    }

    /// The last page_log_size linear pages flushed one by one (invlpg): the translator drops
    /// only their jump-table entries instead of every entry (see LiveJumpEntries).
    static constexpr unsigned page_log_size = 16;
    /// Pages flushed one by one so far; the last min(count, page_log_size) are flushed_page().
    std::uint64_t page_flushes() const { return m_page_flushes; }
    /// The linear page number of page flush number `index` (< page_flushes(), and one of the
    /// last page_log_size).
    std::uint64_t flushed_page(std::uint64_t index) const {
        return m_flushed_pages[index % page_log_size];
    }
    /// Whole flushes (flush()) so far.
    std::uint64_t full_flushes() const { return m_full_flushes; }

  private:
    static constexpr unsigned max_tracked = 4096;
    static_assert(size <= 4096, "a tracked slot is 12 bits");
    JitTlbEntry& slot_of(std::uint16_t tracked) {
        return entries[tracked >> 13][(tracked >> 12) & 1][tracked & (size - 1)];
    }
    std::uint16_t m_filled[max_tracked]{};
    unsigned m_filled_count{0};
    std::uint64_t m_flushed_pages[page_log_size]{};
    std::uint64_t m_page_flushes{0};
    std::uint64_t m_full_flushes{0};
    alignas(64) std::uint8_t m_poison[4096]{};
};

/// A memory access site's guess of its JIT TLB entry (its last page's), so the entry's tag and
/// host page load before the address is known: the hashed index (shift and mask of the
/// address) leaves the access's critical path. The tag compare still decides. A site whose
/// accesses keep jumping between pages (a hash table, a pointer chase) mispredicts its guess:
/// after `miss_limit` misses to a page that is not next to the last one, its code is patched
/// to the hashed index for good (a scan moving to the next page never counts).
struct JitTlbHint {
    static constexpr std::uint32_t miss_limit = 16;
    /// misses_left of a patched site (its real misses still count down from there)
    static constexpr std::uint32_t gave_up = 0x7fffffff;
    std::uint32_t entry{0};                ///< byte offset of the guessed entry in its table
    std::uint32_t misses_left{miss_limit}; ///< non-adjacent misses before the site gives up
};
static_assert(sizeof(JitTlbHint) == 8, "generated code addresses hints with a stride of 8");

/// Hint slots, handed out to access sites in turn; sites of old code may share a slot with
/// new ones (a shared guess is still checked by the tag).
struct JitTlbHints {
    static constexpr unsigned size = 8192;
    JitTlbHint slots[size];
};

/// Guest linear rip -> host code, for indirect branches and branches to other pages. An entry is
/// valid while its stamp equals JitContext::jump_stamp (or global_jump_stamp for code on a
/// global page), which the dispatcher renews when a mapping changed wholesale (stamp 0 is never
/// valid: LiveJumpEntries drops single entries so), and its context equals the current mode and
/// CPL; translated code then jumps without returning to the dispatcher.
struct JitJumpEntry {
    std::uint64_t rip{~std::uint64_t{0}};
    std::uint64_t stamp{0};
    const std::uint8_t* code{nullptr};
    std::uint64_t context{0}; ///< CpuCore::fetch_context (mode, CPL) the code was made for
};
static_assert(sizeof(JitJumpEntry) == 32, "generated code indexes entries with a shift of 5");

/// Two-way set-associative: a set is the two entries of one cache line. Direct-mapped, two hot
/// targets with the same index took turns evicting each other (in a boot, one such pair of
/// kernel functions cost 76K exits to the dispatcher, more than a 4 times larger table saved).
struct alignas(64) JitJumpTable {
    static constexpr unsigned size = 16384;
    static constexpr unsigned ways = 2;
    static constexpr unsigned set_count = size / ways;
    static constexpr unsigned entry_shift = 5;
    static constexpr unsigned set_shift = 6; ///< log2 of a set's bytes
    /// Multiplicative hashing (Knuth): bits 32 and up of rip * 0x61c88647 (2^32 / golden
    /// ratio^2, an imm32 for imul) mix every rip bit from 2 to 44; the old rip ^ (rip >> 12)
    /// gave targets whose page and offset bits cancel out the same index.
    static constexpr std::uint32_t hash_multiplier = 0x61c88647;
    static_assert((hash_multiplier >> 31) == 0, "imul sign-extends its imm32");
    JitJumpEntry entries[size];

    static unsigned set(std::uint64_t rip) {
        return static_cast<unsigned>((rip * hash_multiplier) >> 32) & (set_count - 1);
    }
    /// The first of the `ways` entries that may hold rip (the most recently filled first).
    JitJumpEntry* set_of(std::uint64_t rip) { return &entries[set(rip) * ways]; }
    /// The entry holding rip, or nullptr.
    JitJumpEntry* find(std::uint64_t rip) {
        JitJumpEntry* ways_of = set_of(rip);
        for (unsigned way = 0; way < ways; ++way)
            if (ways_of[way].rip == rip) return &ways_of[way];
        return nullptr;
    }
    /// The entry to fill for rip: its own, else the first way, whose old entry moves to the
    /// second (the least recently filled one goes).
    JitJumpEntry& entry_for(std::uint64_t rip) {
        JitJumpEntry* ways_of = set_of(rip);
        if (ways_of[1].rip == rip) return ways_of[1];
        if (ways_of[0].rip != rip) ways_of[1] = ways_of[0];
        return ways_of[0];
    }
};

/// Slots generated code uses, reached through the vCPU pointer the translated code keeps in a
/// reserved host register.
struct JitContext {
    JitTlb tlb;
    JitTlbHints tlb_hints;
    JitJumpTable jumps;
    /// Stamps of valid jump-table entries: odd for code on ordinary pages (renewed by any TLB
    /// flush), even for code on global pages (kept across CR3 writes), so neither can pass for
    /// the other.
    std::uint64_t jump_stamp{1};
    std::uint64_t global_jump_stamp{2};
    std::uint64_t context{0}; ///< CpuCore::fetch_context while translated code runs
    /// Guest arithmetic flags (CF PF AF ZF SF OF) handed into and out of translated code and
    /// across helper calls; the rest of RFLAGS stays in CpuCore::rflags.
    std::uint64_t flags{0};
    std::uint64_t saved_flags{0}; ///< host flags kept around a TLB lookup while they are live
    std::uint64_t spill{0};       ///< a host register borrowed by a block exit
    /// The host rsp translated code runs on, set by the runtime's enter: below it, only return
    /// frames of translated calls (16 bytes each: a host return address, then the guest return
    /// address it stands for); every exit to the run loop drops them.
    std::uint64_t entry_rsp{0};
    /// The lowest host rsp a translated call may push its return frame from (entry_rsp less
    /// room for JitContext::return_frames frames).
    std::uint64_t frame_limit{0};
    static constexpr std::uint64_t return_frames = 256;
    std::uint64_t branch_target{0}; ///< an indirect call's target while it pushes
    /// Host address of an access group's base register value, from its check to its last
    /// member (AccessGroup::slot; one per nesting level). In user code with page aliases, the
    /// guest linear address instead: members reach the group's page as gs:[r14d + offset].
    std::uint64_t group_host[4]{};
    /// The linear addresses whose page alias such a group relies on (one per group slot), which
    /// no JIT TLB fill may move (CpuCore::alias_way) until translated code is next entered;
    /// bit 63 set for none.
    static constexpr std::uint64_t no_pin = std::uint64_t{1} << 63;
    std::uint64_t alias_pins[4]{no_pin, no_pin, no_pin, no_pin};
    /// Guest rsi and rdi after a translated rep movs/stos, while those host registers hold
    /// host addresses.
    std::uint64_t string_next[2]{};
    std::uint32_t mxcsr_scratch{0};   ///< MXCSR values passing through ldmxcsr/stmxcsr
    std::uint32_t host_mxcsr{0x1f80}; ///< the host's MXCSR, restored after guest floating point
    /// Chained block transitions left before translated code returns to the run loop; another
    /// thread stores 0 to make it return soon (kick).
    std::uint32_t budget{0};
    /// The direct exit translated code left through (a ChainSite), or nullptr for an exit that
    /// cannot be chained (indirect branch, helper).
    const void* exit_site{nullptr};
    /// An exception a helper caught on behalf of translated code; rethrown once the code has
    /// returned, so no C++ exception ever unwinds through generated frames.
    std::exception_ptr deferred;
    /// Instructions the translated code handed to the interpreter, by Zydis mnemonic: the list
    /// of what to translate next.
    std::uint32_t interpreted_by_mnemonic[2048]{};
};

} // namespace vessel::soft
