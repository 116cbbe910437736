// PageAliases: a window of host address space where guest RAM pages are mapped a second time,
// each at its linear address's low 32 bits, so translated user code reaches a page from the
// guest linear address alone.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "base/mapped_region.hpp"
#include "base/result.hpp"

namespace vessel::soft {

/// A window of host address space in which a guest linear page has one place, its position:
/// base() + (linear & (window_size - 1)). The vCPU's translated user code reaches RAM there:
/// the window is the host thread's gs base while it runs, and an access is gs:[r14d] with the
/// guest linear address in r14 (the address-size prefix keeps its low 32 bits). The data
/// access then waits for nothing but the address; the JIT TLB entry's tag check runs beside
/// it and only decides whether the access may go on.
///
/// The JIT TLB keeps the window true: while a user JIT TLB entry of table JitTlb::user + w and
/// index n is valid, slot n of way w maps that entry's page at the entry's position
/// (CpuCore::jit_host_address). Slot n is the page's JIT TLB index (bits 12-23 of its linear
/// address), so the two ways of one index map two positions, and one position never has two
/// slots (pages with equal low 32 bits share it: a slot that takes it from the other way
/// drops that way's entries). A position that no valid entry names may map any page or none:
/// nothing reads it. Each mapped position is a host mapping of its own, so the mappings stay
/// bounded by the slots (2 x 4096 per vCPU).
class PageAliases {
  public:
    static constexpr unsigned ways = 2;
    static constexpr unsigned slot_count = 4096; ///< JitTlb::size (checked where both meet)
    /// Linear pages this far apart share a slot (the JIT TLB's index).
    static constexpr std::uint64_t slot_span = std::uint64_t{slot_count} << 12;
    /// A linear page's position is its address modulo this (the low 32 bits: gs:[r14d]).
    static constexpr std::uint64_t window_size = std::uint64_t{1} << 32;
    /// vCPUs (the first ones) that get windows: each slot mapped is a mapping of its own, and
    /// Linux allows a process 65530 by default (vm.max_map_count); 4 vCPUs' full windows stay
    /// under half of that. Later vCPUs' user code uses the JIT TLB's host pages.
    static constexpr unsigned max_vcpus = 4;
    /// Fills a slot must wait after it moved before it moves again (see may_move).
    static constexpr std::uint64_t settle_fills = 64;

    /// Reserves the window over the guest RAM file `ram_file` (not owned; it must outlive
    /// this).
    static Result<PageAliases> create(int ram_file);

    std::uint8_t* base() const { return m_window.data(); }
    static unsigned slot_of(std::uint64_t linear) {
        return static_cast<unsigned>((linear >> 12) % slot_count);
    }
    static std::uint32_t position_of(std::uint64_t linear) {
        return static_cast<std::uint32_t>((linear & (window_size - 1)) >> 12);
    }
    /// True when `way` maps the page at `file_offset` at the position of linear page `linear`.
    bool maps(unsigned way, std::uint64_t linear, std::uint64_t file_offset) const {
        const unsigned slot = slot_of(linear);
        return m_offsets[way][slot] == file_offset && m_positions[way][slot] == position_of(linear);
    }
    /// The way whose slot maps the position of `linear` (some page there), or -1.
    int way_at(std::uint64_t linear) const {
        const unsigned slot = slot_of(linear);
        for (unsigned way = 0; way < ways; ++way)
            if (m_offsets[way][slot] != no_page && m_positions[way][slot] == position_of(linear))
                return static_cast<int>(way);
        return -1;
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
    /// Maps the page at `file_offset` (page-aligned) at the position of linear page `linear`
    /// as its slot of `way`; the slot's old position is reserved again. False when the host
    /// refused (then the slot maps nothing, and no entry may name it).
    bool map(unsigned way, std::uint64_t linear, std::uint64_t file_offset);
    void count_refusal() { ++m_refusals; }

    /// Slots mapped anew so far (each an mmap, and a host TLB flush).
    std::uint64_t remaps() const { return m_remaps; }
    /// Fills that found no way free to move (counted by the caller with count_refusal).
    std::uint64_t refusals() const { return m_refusals; }

  private:
    PageAliases(MappedRegion window, int ram_file) : m_window(std::move(window)), m_file(ram_file) {
        for (unsigned way = 0; way < ways; ++way) {
            m_offsets[way].assign(slot_count, no_page);
            m_positions[way].assign(slot_count, 0);
            m_moved_at[way].assign(slot_count, 0);
        }
    }
    static constexpr std::uint64_t no_page = ~std::uint64_t{0};
    /// Reserves the position's page again (no access), so nothing else is mapped there.
    void release(std::uint32_t position);

    MappedRegion m_window;
    int m_file;
    std::vector<std::uint64_t> m_offsets[ways];   ///< file offset each slot maps, or no_page
    std::vector<std::uint32_t> m_positions[ways]; ///< where in the window (when mapped)
    std::vector<std::uint64_t> m_moved_at[ways];  ///< m_fills when each slot last moved
    std::uint64_t m_fills{0};
    std::uint64_t m_remaps{0};
    std::uint64_t m_refusals{0};
};

} // namespace vessel::soft
