// LiveJumpEntries: the jump-table entries the dispatcher filled under the current stamps, with
// the code pages behind them, so that a store to code or a single-page TLB flush drops only the
// entries it affects instead of renewing the stamps (which voids every entry).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/soft/block_cache.hpp"
#include "engine/soft/code_pages.hpp"
#include "engine/soft/translator/jit_context.hpp"

namespace vessel::soft {

/// In a boot, renewing the stamps on every store to any code page (a page of an exited
/// process reused) and every invlpg cost about 140 dispatcher exits each, two thirds of all
/// jump-table misses: the hot kernel targets all missed once more after each.
class LiveJumpEntries {
  public:
    /// Entries remembered between two renewals; past that the next drop renews the stamps.
    static constexpr std::size_t capacity = 4096;

    LiveJumpEntries() { m_entries.reserve(capacity); }

    /// `entry` of `jit`'s table was just filled with code translated from `block` (fresh when
    /// the stamps' inputs were read). When full, forgets the entries no longer valid first.
    void filled(JitContext& jit, const JitJumpEntry& entry, const CodeBlock& block) {
        if (m_entries.size() == capacity && !m_overflowed) {
            keep_valid(jit, nullptr, {});
            m_overflowed = m_entries.size() > capacity / 2; // else compaction would be often
        }
        if (m_overflowed) return;
        m_entries.push_back({entry.rip, entry.code, entry.stamp, block.page, block.next_page,
                             block.generation, block.next_generation});
    }
    /// Every entry is invalid now (the stamps were renewed).
    void clear() {
        m_entries.clear();
        m_overflowed = false;
    }
    /// Invalidates each remembered entry of `jit`'s table that is still valid and was
    /// translated from a page stored to since (`pages`), or whose instruction lies on one of
    /// `flushed_pages` (linear page numbers); forgets entries no longer valid. False when
    /// entries were filled beyond the capacity: the caller must renew the stamps.
    bool drop_stale(JitContext& jit, const CodePages& pages,
                    std::span<const std::uint64_t> flushed_pages) {
        if (m_overflowed) return false;
        keep_valid(jit, &pages, flushed_pages);
        return true;
    }
    std::size_t size() const { return m_entries.size(); }

  private:
    struct Entry {
        std::uint64_t rip;
        const std::uint8_t* code;
        std::uint64_t stamp;
        std::uint64_t page;      ///< CodeBlock::page
        std::uint64_t next_page; ///< CodeBlock::next_page (a page-crossing instruction's tail)
        std::uint32_t generation;
        std::uint32_t next_generation;
    };
    static bool stale(const Entry& entry, const CodePages& pages,
                      std::span<const std::uint64_t> flushed_pages);
    /// Forgets the entries replaced or invalid in the table; with `pages`, first invalidates
    /// the stale ones (see drop_stale).
    void keep_valid(JitContext& jit, const CodePages* pages,
                    std::span<const std::uint64_t> flushed_pages);

    std::vector<Entry> m_entries;
    bool m_overflowed{false};
};

} // namespace vessel::soft
