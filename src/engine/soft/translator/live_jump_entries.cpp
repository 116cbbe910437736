// LiveJumpEntries: dropping single jump-table entries (see live_jump_entries.hpp).
#include "engine/soft/translator/live_jump_entries.hpp"

#include <algorithm>

namespace vessel::soft {

bool LiveJumpEntries::stale(const Entry& entry, const CodePages& pages,
                            std::span<const std::uint64_t> flushed_pages) {
    const bool crossing = entry.next_page != no_page;
    if (pages.generation(entry.page) != entry.generation) return true;
    if (crossing && pages.generation(entry.next_page) != entry.next_generation) return true;
    const std::uint64_t linear_page = entry.rip >> 12;
    for (const std::uint64_t flushed : flushed_pages) // a crossing instruction's tail: the next
        if (flushed == linear_page || (crossing && flushed == linear_page + 1)) return true;
    return false;
}

bool LiveJumpEntries::drop_stale(JitContext& jit, const CodePages& pages,
                                 std::span<const std::uint64_t> flushed_pages) {
    if (m_overflowed) return false;
    // Few are stale: the scan reads each entry once and writes only where one goes.
    for (std::size_t i = 0; i < m_entries.size();) {
        const Entry& entry = m_entries[i];
        if (!stale(entry, pages, flushed_pages)) {
            ++i;
            continue;
        }
        JitJumpEntry* slot = jit.jumps.find(entry.rip);
        if (slot != nullptr && slot->stamp == entry.stamp) slot->stamp = 0; // never valid
        m_entries[i] = m_entries.back();                                    // order does not matter
        m_entries.pop_back();
    }
    return true;
}

void LiveJumpEntries::keep_valid(JitContext& jit) {
    std::size_t kept = 0;
    for (const Entry& entry : m_entries) {
        const JitJumpEntry* slot = jit.jumps.find(entry.rip);
        if (slot == nullptr || slot->stamp != entry.stamp ||
            (entry.stamp != jit.jump_stamp && entry.stamp != jit.global_jump_stamp))
            continue; // refilled, replaced or invalid already: a later fill is remembered apart
        m_entries[kept++] = entry;
    }
    m_entries.resize(kept);
}

} // namespace vessel::soft
