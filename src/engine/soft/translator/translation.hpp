// Translation: the host code of one guest block and what the dispatcher needs to chain it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/soft/decoded_op.hpp"

namespace vessel::soft {

/// A direct exit of a translated block: a `jmp rel32` that first leads to the exit path and is
/// patched to jump straight to the target's translation once that exists (chaining).
struct ChainSite {
    std::uint8_t* check{nullptr};     ///< jmp to the flag-safe budget check; retargeted to the
                                      ///< short check (the next instruction) when flags are dead;
                                      ///< null on a forward edge, which has no check
    std::uint8_t* fast_jump{nullptr}; ///< the jmp after the short check
    std::uint8_t* jump{nullptr};      ///< the jmp after the flag-safe check
    /// A forward exit that a conditional branch of the block leads to: that `jcc rel32`, which
    /// chaining points at the target too (one jump fewer on the taken path), or null.
    std::uint8_t* branch{nullptr};
    std::uint64_t target{0}; ///< guest linear address the exit goes to
    bool chained{false};
};

/// What only a loop region (loop_region.hpp) has: its chain sites (one per side exit, and their
/// copies in group fallbacks) and copies of its blocks' DecodedOps, one per instruction, which
/// its interpreter calls point at.
struct RegionStorage {
    std::array<ChainSite, 16> sites{};
    std::vector<DecodedOp> ops;
    std::uint32_t register_loans{
        0}; ///< memory-kept GPRs in lent host registers (register_loans.hpp)
};

/// Interpreter calls in the code point at the CodeBlock's DecodedOps (a loop region's at its own
/// copies). That block is replaced (BlockCache::insert) only by its own vCPU's dispatcher, after
/// it went stale, and stale code is never entered again: the dispatcher checks freshness, the
/// jump table's stamp changes with any code invalidation, and direct chains only link blocks of
/// one page, which go stale together.
struct Translation {
    const std::uint8_t* code{nullptr};
    std::size_t code_size{0};
    std::uint64_t linear{0};  ///< guest linear address of the first instruction
    std::uint64_t page{0};    ///< RAM page index its code came from (CodeBlock::page)
    std::uint32_t context{0}; ///< CpuCore::fetch_context (mode and CPL) it was made for
    std::uint32_t native_ops{0};
    /// The block writes every arithmetic flag before reading one or possibly faulting.
    bool flags_dead_at_entry{false};
    /// Made from a page-crossing instruction (CodeBlock::next_page).
    bool crosses_page{false};
    std::uint32_t fallback_ops{0};
    /// Access groups (access_groups.hpp) whose check the code holds, and the accesses they serve.
    std::uint32_t access_groups{0};
    std::uint32_t grouped_accesses{0};
    /// A loop region: the blocks it strings together, and the access groups whose check runs
    /// once before the loop instead of once per pass.
    std::uint32_t region_blocks{0};
    std::uint32_t hoisted_groups{0};
    /// Direct exits: at most two per block (a branch taken and not taken). Fixed storage: the
    /// generated code holds their addresses.
    std::array<ChainSite, 2> block_sites{};
    std::unique_ptr<RegionStorage> region; ///< a loop region's, else null

    std::span<ChainSite> sites() {
        return region != nullptr ? std::span<ChainSite>(region->sites)
                                 : std::span<ChainSite>(block_sites);
    }
};

} // namespace vessel::soft
