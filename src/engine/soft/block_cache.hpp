// BlockCache: decoded basic blocks keyed by guest-physical location and mode, checked for
// staleness.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/soft/block_table.hpp"
#include "engine/soft/code_pages.hpp"
#include "engine/soft/decoded_op.hpp"
#include "engine/soft/spare_memory.hpp"

namespace vessel::soft {

struct Translation;

/// A straight run of instructions from one RAM page, ending at a branch, a system instruction,
/// the page end or a size cap; or one instruction that crosses into the next page.
struct CodeBlock {
    static constexpr std::uint64_t no_page = ~std::uint64_t{0};

    std::uint64_t key{0};  ///< (RAM offset << 3) | CpuMode
    std::uint64_t page{0}; ///< RAM page index the bytes came from
    std::uint32_t generation{0};
    /// For a page-crossing instruction: the RAM page its tail came from (the page the next
    /// linear page mapped to when decoded) and that page's generation; else no_page.
    std::uint64_t next_page{no_page};
    std::uint32_t next_generation{0};
    std::vector<std::uint8_t> crossing_bytes; ///< a page-crossing instruction's bytes
    std::vector<DecodedOp> ops;
    bool translatable{true};
    /// The translator's epoch in which it last tried to make a loop region headed here (so it
    /// tries once per epoch).
    std::uint64_t region_epoch{0};
    std::uint32_t heat{0}; ///< dispatches so far, while untranslated
    /// Host code for this block (owned by the translator's code cache), valid while
    /// `translation_epoch` equals the cache's epoch.
    const Translation* translation{nullptr};
    std::uint64_t translation_epoch{0};
};

/// One vCPU's decoded blocks. A block is used only while its page's CodePages generation is
/// unchanged, so stores by any vCPU to the page make it stale.
class BlockCache {
  public:
    explicit BlockCache(CodePages& pages) : BlockCache(pages, nullptr) {}
    /// The size of the direct-mapped front (256 KiB).
    static constexpr std::size_t front_bytes() { return recent_slots * sizeof(Recent); }
    /// With the front in `zeroed` (front_bytes() of zero bytes that outlive the cache), or in a
    /// mapping of its own when that is nullptr.
    BlockCache(CodePages& pages, void* zeroed)
        : m_pages(pages), m_recent(make_array_in<Recent>(zeroed, recent_slots)) {}

    static std::uint64_t key(std::uint64_t ram_offset, unsigned mode) {
        return (ram_offset << 3) | mode;
    }

    /// The current block for key, or nullptr when absent or stale.
    CodeBlock* find(std::uint64_t key) {
        const Recent& recent = m_recent[slot(key)];
        if (recent.key == key && recent.block != nullptr && fresh(*recent.block)) [[likely]]
            return recent.block;
        CodeBlock* found = m_blocks.find(key);
        if (found == nullptr || !fresh(*found)) return nullptr;
        m_recent[slot(key)] = {key, found};
        return found;
    }

    /// Stores a block and returns it. A stale block with the same key is refreshed in place,
    /// so a block's address stays valid for the cache's lifetime (the interpreter's jump cache
    /// keeps pointers and re-checks freshness).
    CodeBlock* insert(std::unique_ptr<CodeBlock> block) {
        std::unique_ptr<CodeBlock>& stored = m_blocks[block->key];
        if (stored)
            *stored = std::move(*block);
        else
            stored = std::move(block);
        m_recent[slot(stored->key)] = {stored->key, stored.get()};
        return stored.get();
    }
    /// Whether `block` may run: the pages it was decoded from have not been stored to since.
    bool fresh(const CodeBlock& block) const {
        return m_pages.generation(block.page) == block.generation &&
               (block.next_page == CodeBlock::no_page ||
                m_pages.generation(block.next_page) == block.next_generation);
    }

    /// Frees every block; callers holding block pointers (the jump cache) must drop them.
    void clear() {
        m_blocks.clear(); // the table too
        std::fill_n(m_recent.get(), recent_slots, Recent{});
    }
    std::size_t size() const { return m_blocks.size(); }

  private:
    static std::size_t slot(std::uint64_t key) { return (key ^ (key >> 17)) % recent_slots; }

    /// A direct-mapped front of m_blocks holding the key too, so a hit costs one cache line
    /// before the block itself (a miss walks the hash map's nodes).
    /// Empty as all zero bytes (no block): left as the zeroed memory's zeros (see
    /// make_array_in), so building a vCPU does not touch these 256 KiB.
    struct Recent {
        static constexpr bool zero_bytes_are_value_initialized = true;
        std::uint64_t key{0};
        CodeBlock* block{nullptr};
    };
    static constexpr std::size_t recent_slots = 16384;
    CodePages& m_pages;
    BlockTable<CodeBlock> m_blocks;
    SpareArray<Recent> m_recent;
};

} // namespace vessel::soft
