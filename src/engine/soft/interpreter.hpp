// Interpreter: finds or decodes the block at the current instruction pointer and executes it.
#pragma once

#include <algorithm>
#include <memory>

#include "engine/soft/block_cache.hpp"
#include "engine/soft/block_executor.hpp"
#include "engine/soft/cpu_core.hpp"
#include "engine/soft/instruction_decoder.hpp"
#include "engine/soft/spare_memory.hpp"

namespace vessel::soft {

class Interpreter final : public BlockExecutor {
  public:
    static constexpr std::size_t max_block_ops = 64;

    /// The block cache's front and the jump cache (416 KiB, empty as zero bytes) go in the
    /// spare part of `cpu`'s huge page, which is zero already (spare_memory.hpp).
    explicit Interpreter(CpuCore& cpu)
        : m_cpu(cpu), m_cache(cpu.code_pages(), take_spare_memory(cpu, BlockCache::front_bytes())) {
    }

    void execute(unsigned& budget) override {
        --budget;
        execute_block();
    }

    /// Runs one block at cs:rip. Throws GuestFault (rip left at the faulting instruction),
    /// EngineFailure or ShutdownSignal; returns normally otherwise.
    void execute_block() {
        m_cpu.instruction_rip = m_cpu.rip;
        run(*block_at());
    }

    /// The decoded block at cs:rip (decoding it if needed); raises a fetch fault.
    CodeBlock* current_block() {
        m_cpu.instruction_rip = m_cpu.rip;
        return block_at();
    }

    /// Interprets `block`, which starts at cs:rip.
    void run(const CodeBlock& block) {
        CpuCore& cpu = m_cpu;
        cpu.exit_block = cpu.single_instruction; // stops the loop after the first op
        cpu.single_instruction = false;
        cpu.instruction_rip = cpu.rip;
        for (const DecodedOp& op : block.ops) {
            cpu.instruction_rip = cpu.rip;
            cpu.rip += op.length;
            op.handler(cpu, op);
            if (cpu.exit_block) [[unlikely]]
                break;
        }
    }

    BlockCache& cache() { return m_cache; }
    /// Frees every decoded block (an idle vCPU's memory); the translator's code, which points
    /// into blocks, must be gone first.
    void release_memory() {
        m_cache.clear();
        std::fill_n(m_jump.get(), jump_slots, JumpEntry{});
    }

  private:
    /// Linear instruction address -> block, valid while the CPU's fetch epoch (the global one
    /// for a global page) and context are unchanged and no code page was stored to: skips the
    /// instruction-fetch translation and the physical-key lookup for hot targets.
    /// Empty as all zero bytes (no block), so zeroed memory needs no pass writing it: a
    /// restore's vCPUs are built without touching these 160 KiB.
    struct JumpEntry {
        static constexpr bool zero_bytes_are_value_initialized = true;
        std::uint64_t linear{0};
        std::uint64_t epoch{0};
        std::uint64_t code_generation{0}; ///< CodePages::any_generation() when filled
        CodeBlock* block{nullptr};
        std::uint32_t context{0}; ///< CpuCore::fetch_context when filled
        bool global{false};       ///< the page's translation is global
    };
    static constexpr std::size_t jump_slots = 4096;

    CodeBlock* block_at() {
        const std::uint64_t linear = m_cpu.linear(cs, m_cpu.rip);
        const JumpEntry& entry = m_jump[(linear ^ (linear >> 12)) % jump_slots];
        if (entry.linear == linear && entry.block != nullptr &&
            entry.context == m_cpu.fetch_context &&
            entry.epoch == (entry.global ? m_cpu.global_fetch_epoch : m_cpu.fetch_epoch) &&
            entry.code_generation == m_cpu.code_pages().any_generation()) [[likely]]
            return entry.block;
        return lookup_block(linear);
    }
    CodeBlock* lookup_block(std::uint64_t linear);
    std::unique_ptr<CodeBlock> decode_block(std::uint64_t linear, std::uint64_t ram_offset,
                                            const std::uint8_t* host);
    /// The host address and RAM offset of the page after the one holding `linear`, as fetched.
    const std::uint8_t* next_page(std::uint64_t linear, std::uint64_t* ram_offset);

    CpuCore& m_cpu;
    BlockCache m_cache;
    InstructionDecoder m_decoder;
    /// decode_block's ops as they come, kept from block to block: the block then gets them in
    /// one allocation of their size (pushing into its own vector grew it 4 times a block, a few
    /// percent of a boot's CPU in malloc).
    std::vector<DecodedOp> m_decoding;
    SpareArray<JumpEntry> m_jump{make_array_in<JumpEntry>(
        take_spare_memory(m_cpu, jump_slots * sizeof(JumpEntry)), jump_slots)};
};

} // namespace vessel::soft
