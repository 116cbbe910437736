// LoopRegion: a hot loop's blocks, all of one page, strung together into one translation. The
// loop's head is found where translated code runs out of budget (a loop's back edge took it
// there); the region is the shortest cycle of blocks from the head back to it whose edges go
// forward in the page but for the last, back to the head. Its access groups whose base register
// the loop never changes are checked once before the loop (AccessGroup::hoisted), and its
// branches' other ways leave as side exits. docs/SOFT_CPU.md, "loop regions".
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/soft/block_cache.hpp"

namespace vessel::soft {

/// A branch of a region that stays in it: the instruction's index in the region and the guest
/// address the region goes on at (the head, for the last link: the loop's back edge).
struct RegionLink {
    std::size_t index{0};
    std::uint64_t next{0};
};

/// A block of a loop region and where its first instruction runs.
struct RegionBlock {
    const CodeBlock* block{nullptr};
    std::uint64_t linear{0};
};

struct LoopRegion {
    static constexpr std::size_t max_blocks = 6;
    std::vector<RegionBlock> blocks; ///< the head first
};

/// Where a block ending in a relative jmp or jcc goes (`count` 1 or 2), from its DecodedOps and
/// its first instruction's address; 0 for any other ending.
unsigned block_successors(const CodeBlock& block, std::uint64_t linear, std::uint64_t out[2]);

/// Where a block ending in a relative near call goes (into `out`); false for any other ending.
bool block_call_target(const CodeBlock& block, std::uint64_t linear, std::uint64_t& out);

/// The shortest loop through `head` (decoded as `head_block`) over blocks already decoded in
/// `cache` (mode `mode`, the head's page at RAM offset `page_offset`): each edge but the last
/// goes to a higher address of the page, the last back to the head. False when there is none
/// within max_blocks blocks, or a block on it crosses a page.
bool find_loop_region(BlockCache& cache, const CodeBlock& head_block, std::uint64_t head,
                      std::uint64_t page_offset, unsigned mode, LoopRegion& out);

} // namespace vessel::soft
