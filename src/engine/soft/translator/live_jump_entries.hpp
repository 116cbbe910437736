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
            keep_valid(jit);
            m_overflowed = m_entries.size() > capacity / 2; // else compaction would be often
        }
        if (m_overflowed) return;
        const bool crossing = block.next_page != CodeBlock::no_page;
        m_entries.push_back({entry.rip, entry.stamp, static_cast<std::uint32_t>(block.page),
                             block.generation,
                             crossing ? static_cast<std::uint32_t>(block.next_page) : no_page,
                             block.next_generation});
    }
    /// Every entry is invalid now (the stamps were renewed).
    void clear() {
        m_entries.clear();
        m_overflowed = false;
    }
    /// Invalidates each remembered entry of `jit`'s table translated from a page stored to
    /// since (`pages`), or whose instruction lies on one of `flushed_pages` (linear page
    /// numbers), and forgets it. False when entries were filled beyond the capacity: the caller
    /// must renew the stamps.
    bool drop_stale(JitContext& jit, const CodePages& pages,
                    std::span<const std::uint64_t> flushed_pages);
    std::size_t size() const { return m_entries.size(); }

  private:
    static constexpr std::uint32_t no_page = ~std::uint32_t{0};
    /// 32 bytes: a drop reads them all, so they are kept small.
    struct Entry {
        std::uint64_t rip;
        std::uint64_t stamp; ///< the entry's stamp when filled (a refill has another)
        std::uint32_t page;  ///< CodeBlock::page (RAM pages fit 32 bits: 16 TiB)
        std::uint32_t generation;
        std::uint32_t next_page; ///< a page-crossing instruction's tail, else no_page
        std::uint32_t next_generation;
    };
    static_assert(sizeof(Entry) == 32);
    static bool stale(const Entry& entry, const CodePages& pages,
                      std::span<const std::uint64_t> flushed_pages);
    /// Forgets the entries refilled, replaced or invalid in the table.
    void keep_valid(JitContext& jit);

    std::vector<Entry> m_entries;
    bool m_overflowed{false};
};

} // namespace vessel::soft
