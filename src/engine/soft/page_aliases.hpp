// PageAliases: windows of host address space whose slots map guest RAM pages a second time,
// so translated user code finds a page's host address from the guest linear address alone.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "base/mapped_region.hpp"
#include "base/result.hpp"

namespace vessel::soft {

/// Two ways (windows) of slot_count slots; slot n of way w maps one 4 KiB page of the guest RAM
/// file (GuestMemory::file()), and the JIT TLB keeps it so: while a user JIT TLB entry of
/// table JitTlb::user + w and index n is valid, slot n of way w maps that entry's page
/// (CpuCore::jit_host_address). Translated user code then computes the host address as
/// base(w) + (linear & (window_size - 1)), which does not wait for the TLB entry's load; the
/// entry's tag check runs beside it and only decides whether the access may go on. Two ways,
/// so that two hot pages 16 MiB apart (one slot) both stay mapped. A slot that no valid entry
/// names may map any page (or none): nothing reads it.
class PageAliases {
  public:
    static constexpr unsigned ways = 2;
    static constexpr unsigned slot_count = 4096; ///< JitTlb::size (checked where both meet)
    static constexpr std::uint64_t window_size = std::uint64_t{slot_count} << 12;
    /// vCPUs (the first ones) that get windows: each slot mapped is a mapping of its own, and
    /// Linux allows a process 65530 by default (vm.max_map_count); 4 vCPUs' full windows stay
    /// under half of that. Later vCPUs' user code uses the JIT TLB's host pages.
    static constexpr unsigned max_vcpus = 4;
    /// Fills a slot must wait after it moved before it moves again (see may_move).
    static constexpr std::uint64_t settle_fills = 64;

    /// Reserves the windows over the guest RAM file `ram_file` (not owned; it must outlive
    /// this).
    static Result<PageAliases> create(int ram_file);

    std::uint8_t* base(unsigned way) const { return m_windows.data() + way * window_size; }
    /// True when slot `slot` of `way` maps the page at `file_offset` of the RAM file.
    bool maps(unsigned way, unsigned slot, std::uint64_t file_offset) const {
        return m_offsets[way][slot] == file_offset;
    }
    /// Counts a fill of a user JIT TLB entry (each asks for its slot's page).
    void count_fill() { ++m_fills; }
    /// Whether slot `slot` of `way` may move to another page now: not while it moved in the
    /// last settle_fills fills. Three hot pages of one slot would otherwise move it on nearly
    /// every access, an mmap and a host TLB flush each (seen with one way: gzip 1 s -> 69 s
    /// when the guest's address randomization put two of its buffers 16 MiB apart); meanwhile
    /// the page that found no way is served without a fast entry, through the fill helper.
    bool may_move(unsigned way, unsigned slot) const {
        return m_offsets[way][slot] == no_page || m_fills - m_moved_at[way][slot] >= settle_fills;
    }
    /// Maps the page at `file_offset` (page-aligned) into slot `slot` of `way`; false when the
    /// host refused (then the slot maps nothing, and no entry may name it).
    bool map(unsigned way, unsigned slot, std::uint64_t file_offset);
    void count_refusal() { ++m_refusals; }

    /// Slots mapped anew so far (each an mmap, and a host TLB flush).
    std::uint64_t remaps() const { return m_remaps; }
    /// Fills that found no way free to move (counted by the caller with count_refusal).
    std::uint64_t refusals() const { return m_refusals; }

  private:
    PageAliases(MappedRegion windows, int ram_file)
        : m_windows(std::move(windows)), m_file(ram_file) {
        for (unsigned way = 0; way < ways; ++way) {
            m_offsets[way].assign(slot_count, no_page);
            m_moved_at[way].assign(slot_count, 0);
        }
    }
    static constexpr std::uint64_t no_page = ~std::uint64_t{0};

    MappedRegion m_windows; ///< way 0's window, then way 1's
    int m_file;
    std::vector<std::uint64_t> m_offsets[ways];  ///< file offset each slot maps, or no_page
    std::vector<std::uint64_t> m_moved_at[ways]; ///< m_fills when each slot last moved
    std::uint64_t m_fills{0};
    std::uint64_t m_remaps{0};
    std::uint64_t m_refusals{0};
};

} // namespace vessel::soft
