// Interpreter: block lookup and decoding from guest RAM.
#include "engine/soft/interpreter.hpp"

#include <algorithm>
#include <cstring>

namespace vessel::soft {

CodeBlock* Interpreter::lookup_block(std::uint64_t linear) {
    // Read before the freshness checks below: a store racing with them bumps it again.
    const std::uint64_t code_generation = m_cpu.code_pages().any_generation();
    std::uint64_t ram_offset = 0;
    bool global = false;
    const std::uint8_t* host = m_cpu.fetch_pointer(linear, &ram_offset, &global);
    const std::uint64_t key = BlockCache::key(ram_offset, static_cast<unsigned>(m_cpu.mode));
    CodeBlock* block = m_cache.find(key);
    if (block != nullptr && block->next_page != CodeBlock::no_page) [[unlikely]] {
        std::uint64_t next_offset = 0;
        next_page(linear, &next_offset);
        if (next_offset >> 12 != block->next_page)
            block = nullptr; // the crossing instruction's tail now maps to another page
    }
    if (block == nullptr) [[unlikely]]
        block = m_cache.insert(decode_block(linear, ram_offset, host));
    m_jump[(linear ^ (linear >> 12)) % jump_slots] = {linear,
                                                      global ? m_cpu.global_fetch_epoch
                                                             : m_cpu.fetch_epoch,
                                                      code_generation,
                                                      block,
                                                      m_cpu.fetch_context,
                                                      global};
    return block;
}

const std::uint8_t* Interpreter::next_page(std::uint64_t linear, std::uint64_t* ram_offset) {
    std::uint64_t next_linear = (linear & ~std::uint64_t{0xfff}) + 4096;
    if (m_cpu.mode != CpuMode::Long64) next_linear &= 0xffff'ffff;
    return m_cpu.fetch_pointer(next_linear, ram_offset);
}

std::unique_ptr<CodeBlock> Interpreter::decode_block(std::uint64_t linear, std::uint64_t ram_offset,
                                                     const std::uint8_t* host) {
    auto block = std::make_unique<CodeBlock>();
    block->key = BlockCache::key(ram_offset, static_cast<unsigned>(m_cpu.mode));
    block->page = ram_offset >> 12;
    // Mark first, then read the generation: a store racing with decoding makes the block stale.
    m_cpu.code_pages().mark_code(block->page);
    block->generation = m_cpu.code_pages().generation(block->page);
    const CpuMode mode = m_cpu.mode;
    std::uint64_t offset = linear & 0xfff;
    m_decoding.clear();
    const std::uint8_t* page = host - offset; // host points at linear's byte; index from the page
    for (;;) {
        DecodedOp op;
        const std::size_t available = 4096 - offset;
        auto status =
            m_decoder.decode(mode, page + offset, std::min<std::size_t>(available, 15), op);
        if (status == InstructionDecoder::Status::Truncated) {
            // The instruction continues on the next page: it is a block alone, which stays
            // valid while neither page is stored to and the next page keeps its mapping.
            if (!m_decoding.empty()) break;
            std::uint8_t buffer[15];
            std::memcpy(buffer, page + offset, available);
            std::uint64_t next_offset = 0;
            const std::uint8_t* next = next_page(linear, &next_offset);
            block->next_page = next_offset >> 12;
            m_cpu.code_pages().mark_code(block->next_page);
            block->next_generation = m_cpu.code_pages().generation(block->next_page);
            std::memcpy(buffer + available, next, 15 - available);
            status = m_decoder.decode(mode, buffer, 15, op);
            if (status == InstructionDecoder::Status::Truncated)
                m_cpu.raise(x86::vector::invalid_opcode);
            block->crossing_bytes.assign(buffer, buffer + op.length);
            m_decoding.push_back(op);
            break;
        }
        m_decoding.push_back(op);
        offset += op.length;
        if (op.ends_block || offset >= 4096 || m_decoding.size() >= max_block_ops) break;
    }
    block->ops.assign(m_decoding.begin(), m_decoding.end());
    return block;
}

} // namespace vessel::soft
