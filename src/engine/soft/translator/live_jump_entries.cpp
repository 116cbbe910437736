// LiveJumpEntries: dropping single jump-table entries (see live_jump_entries.hpp).
#include "engine/soft/translator/live_jump_entries.hpp"

#include <algorithm>

namespace vessel::soft {

bool LiveJumpEntries::stale(const Entry& entry, const CodePages& pages,
                            std::span<const std::uint64_t> flushed_pages) {
    const bool crossing = entry.next_page != CodeBlock::no_page;
    if (pages.generation(entry.page) != entry.generation) return true;
    if (crossing && pages.generation(entry.next_page) != entry.next_generation) return true;
    const std::uint64_t linear_page = entry.rip >> 12;
    return std::any_of(flushed_pages.begin(), flushed_pages.end(), [&](std::uint64_t flushed) {
        // a page-crossing instruction's tail comes from the next linear page
        return flushed == linear_page || (crossing && flushed == linear_page + 1);
    });
}

void LiveJumpEntries::keep_valid(JitContext& jit, const CodePages* pages,
                                 std::span<const std::uint64_t> flushed_pages) {
    std::size_t kept = 0;
    for (const Entry& entry : m_entries) {
        JitJumpEntry* slot = jit.jumps.find(entry.rip);
        if (slot == nullptr || slot->code != entry.code || slot->stamp != entry.stamp ||
            (entry.stamp != jit.jump_stamp && entry.stamp != jit.global_jump_stamp))
            continue; // refilled, replaced or invalid already: a later fill is remembered apart
        if (pages != nullptr && stale(entry, *pages, flushed_pages)) {
            slot->stamp = 0; // never a valid stamp
            continue;
        }
        m_entries[kept++] = entry;
    }
    m_entries.resize(kept);
}

} // namespace vessel::soft
