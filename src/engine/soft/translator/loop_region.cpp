// LoopRegion: finding a hot loop's blocks (loop_region.hpp).
#include "engine/soft/translator/loop_region.hpp"

#include <Zydis/Zydis.h>

#include "engine/soft/translator/instruction_classes.hpp"

namespace vessel::soft {

namespace {

/// Where a block's last instruction, a relative near branch, jump or call, goes (from its
/// DecodedOps and its first instruction's address), and the address after the block; false
/// for any other ending.
bool relative_target(const CodeBlock& block, std::uint64_t linear, std::uint64_t& target,
                     std::uint64_t& end) {
    if (block.ops.empty()) return false;
    end = linear;
    for (const DecodedOp& op : block.ops)
        end += op.length;
    const DecodedOp& last = block.ops.back();
    if (last.operand_size != 8 || last.operands[0].kind != OperandKind::Immediate) return false;
    target = end + last.immediate;
    return true;
}

ZydisMnemonic last_mnemonic(const CodeBlock& block) {
    return static_cast<ZydisMnemonic>(block.ops.back().mnemonic);
}

} // namespace

unsigned block_successors(const CodeBlock& block, std::uint64_t linear, std::uint64_t out[2]) {
    std::uint64_t target = 0, end = 0;
    if (!relative_target(block, linear, target, end)) return 0;
    const ZydisMnemonic mnemonic = last_mnemonic(block);
    if (branch_condition(mnemonic) >= 0) {
        out[0] = target;
        out[1] = end;
        return 2;
    }
    if (mnemonic == ZYDIS_MNEMONIC_JMP) {
        out[0] = target;
        return 1;
    }
    return 0;
}

bool block_call_target(const CodeBlock& block, std::uint64_t linear, std::uint64_t& out) {
    std::uint64_t target = 0, end = 0;
    if (!relative_target(block, linear, target, end) || last_mnemonic(block) != ZYDIS_MNEMONIC_CALL)
        return false;
    out = target;
    return true;
}

bool find_loop_region(BlockCache& cache, const CodeBlock& head_block, std::uint64_t head,
                      std::uint64_t page_offset, unsigned mode, LoopRegion& out) {
    // Breadth first over the blocks the head reaches by forward edges in its page: the first
    // block found with an edge back to the head closes the shortest loop.
    struct Node {
        const CodeBlock* block;
        std::uint64_t linear;
        std::size_t parent;
        std::size_t depth;
    };
    std::vector<Node> nodes{{&head_block, head, 0, 1}};
    const std::uint64_t page = head >> 12;
    for (std::size_t at = 0; at < nodes.size() && nodes.size() < 64; ++at) {
        const Node node = nodes[at];
        if (node.block->next_page != CodeBlock::no_page || !node.block->translatable) continue;
        std::uint64_t successors[2];
        const unsigned count = block_successors(*node.block, node.linear, successors);
        for (unsigned i = 0; i < count; ++i) {
            const std::uint64_t next = successors[i];
            if (next == head) {
                out.blocks.clear();
                for (std::size_t n = at;; n = nodes[n].parent) {
                    out.blocks.insert(out.blocks.begin(), {nodes[n].block, nodes[n].linear});
                    if (n == 0) break;
                }
                return true;
            }
            // (the last 15 bytes of a page may start an instruction that crosses it)
            if (next <= node.linear || next >> 12 != page || (next & 0xfff) > 4096 - 15 ||
                node.depth == LoopRegion::max_blocks)
                continue;
            const CodeBlock* block =
                cache.find(BlockCache::key(page_offset + (next & 0xfff), mode));
            if (block == nullptr) continue; // never run: not on the hot path
            nodes.push_back({block, next, at, node.depth + 1});
        }
    }
    return false;
}

} // namespace vessel::soft
