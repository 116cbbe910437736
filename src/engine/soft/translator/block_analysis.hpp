// Block analysis for the translator: each guest instruction of a decoded block as Zydis sees
// it, which arithmetic flags it reads and writes, and the flags live before and after it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include <Zydis/Zydis.h>

#include "engine/soft/block_cache.hpp"

namespace vessel::soft {

constexpr std::uint32_t arithmetic_mask = 0x8d5; // CF PF AF ZF SF OF (Intel SDM Vol. 1, 3.4.3.1)

/// One guest instruction as Zydis sees it, with where it runs.
struct GuestInstruction {
    ZydisDecodedInstruction instruction;
    ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
    const std::uint8_t* bytes{nullptr};
    std::uint64_t linear{0};
    std::uint64_t next{0};
    std::uint32_t flags_tested{arithmetic_mask};
    std::uint32_t flags_written{0}; ///< always overwritten
    /// May write some flag. With none always written: a shift or rotate whose count may be 0,
    /// which then leaves every flag as it was.
    bool flags_may_change{true};
    /// Arithmetic flags whose value may still be read before being overwritten, along the
    /// block's path, just before and just after this instruction (the block's end counts as a
    /// reader of every flag).
    std::uint32_t flags_live_in{arithmetic_mask};
    std::uint32_t flags_live_out{arithmetic_mask};
    bool decoded{false};
    /// Its operands name other registers than its bytes do (register_loans.hpp): never emitted
    /// as its own bytes.
    bool renamed{false};
};

/// Decodes `block` (whose bytes start at `bytes`, at guest linear `linear`) with Zydis and fills
/// each instruction's flag reads, writes and liveness, into the first block.ops.size() elements
/// of `buffer` (grown when needed): the caller keeps the buffer from block to block, so its
/// elements (about 1.1 KB each, mostly Zydis's operands) are neither allocated nor zeroed per
/// block. Returns those elements.
/// `live_at_end`: the flags something after the block may read (flags_read_on_entry of its
/// successors; by default all).
std::span<GuestInstruction> analyze_block(const ZydisDecoder& decoder, const CodeBlock& block,
                                          const std::uint8_t* bytes, std::uint64_t linear,
                                          std::vector<GuestInstruction>& buffer,
                                          std::uint32_t live_at_end = arithmetic_mask);

/// The arithmetic flags code starting at `bytes` (`available` bytes of it known, the rest of
/// its page) may read before it overwrites them: those its first instructions read before
/// writing them, plus every flag not yet written where the look stops (a branch, an
/// instruction it cannot decode, the page's end, or eight instructions on).
std::uint32_t flags_read_on_entry(const ZydisDecoder& decoder, const std::uint8_t* bytes,
                                  std::size_t available);

/// Whether the block overwrites all arithmetic flags before anything reads them or can fault
/// (a fault would show them): then a jump into it may clobber the flags. `access_cannot_fault`,
/// when given, names instructions whose memory access was checked beforehand (a loop region's
/// hoisted groups), which count as not touching memory.
bool flags_dead_at_entry(std::span<const GuestInstruction> instructions,
                         const std::function<bool(std::size_t)>& access_cannot_fault = {});

} // namespace vessel::soft
