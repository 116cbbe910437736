// PageAliases: a window of host address space whose slots map guest RAM pages a second time,
// so translated user code finds a page's host address from the guest linear address alone.
#pragma once

#include <cstdint>
#include <vector>

#include "base/mapped_region.hpp"
#include "base/result.hpp"

namespace vessel::soft {

/// Slot n of the window maps one 4 KiB page of the guest RAM file (GuestMemory::file()), and
/// the JIT TLB keeps it so: while a user JIT TLB entry of index n is valid, slot n maps that
/// entry's page (CpuCore::jit_host_address). Translated user code then computes the host
/// address as base() + (linear & (window_size - 1)), which does not wait for the TLB entry's
/// load; the entry's tag check runs beside it and only decides whether the access may go on.
/// A slot that no valid entry names may map any page (or none): nothing reads it.
class PageAliases {
  public:
    static constexpr unsigned slot_count = 4096; ///< JitTlb::size (checked where both meet)
    static constexpr std::uint64_t window_size = std::uint64_t{slot_count} << 12;
    /// vCPUs (the first ones) that get a window: each slot mapped is a mapping of its own, and
    /// Linux allows a process 65530 by default (vm.max_map_count); 8 full windows stay under
    /// half of that. Later vCPUs' user code uses the JIT TLB's host pages.
    static constexpr unsigned max_vcpus = 8;

    /// Reserves the window over the guest RAM file `ram_file` (not owned; it must outlive this).
    static Result<PageAliases> create(int ram_file);

    std::uint8_t* base() const { return m_window.data(); }
    /// True when `slot` maps the page at `file_offset` of the RAM file.
    bool maps(unsigned slot, std::uint64_t file_offset) const {
        return m_offsets[slot] == file_offset;
    }
    /// Counts a fill of a user JIT TLB entry (each asks for its slot's page).
    void count_fill() { ++m_fills; }
    /// Whether `slot` may move to another page now: not while it moved in the last
    /// settle_fills fills. Two hot pages 16 MiB apart would otherwise move it on nearly every
    /// access, an mmap and a host TLB flush each (seen: gzip 1 s -> 69 s, when the guest's
    /// address randomization put two of its buffers so); meanwhile the other page is served
    /// without a fast entry, through the fill helper. Counts a refusal.
    bool may_move(unsigned slot) {
        if (m_offsets[slot] == no_page || m_fills - m_moved_at[slot] >= settle_fills) return true;
        ++m_refusals;
        return false;
    }
    /// Maps the page at `file_offset` (page-aligned) into `slot`; false when the host refused
    /// (then the slot maps nothing, and no entry may name it).
    bool map(unsigned slot, std::uint64_t file_offset);
    /// Slots mapped anew so far (each an mmap, and a host TLB flush).
    std::uint64_t remaps() const { return m_remaps; }
    /// Moves may_move refused so far.
    std::uint64_t refusals() const { return m_refusals; }

    static constexpr std::uint64_t settle_fills = 64;

  private:
    PageAliases(MappedRegion window, int ram_file)
        : m_window(std::move(window)), m_file(ram_file), m_offsets(slot_count, no_page),
          m_moved_at(slot_count, 0) {}
    static constexpr std::uint64_t no_page = ~std::uint64_t{0};

    MappedRegion m_window;
    int m_file;
    std::vector<std::uint64_t> m_offsets;  ///< file offset each slot maps, or no_page
    std::vector<std::uint64_t> m_moved_at; ///< m_fills when each slot last moved
    std::uint64_t m_fills{0};
    std::uint64_t m_remaps{0};
    std::uint64_t m_refusals{0};
};

} // namespace vessel::soft
