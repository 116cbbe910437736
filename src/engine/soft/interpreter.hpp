// Interpreter: finds or decodes the block at the current instruction pointer and executes it.
#pragma once

#include <memory>

#include "engine/soft/block_cache.hpp"
#include "engine/soft/cpu_core.hpp"
#include "engine/soft/instruction_decoder.hpp"

namespace vessel::soft {

class Interpreter {
  public:
    static constexpr std::size_t max_block_ops = 64;

    explicit Interpreter(CpuCore& cpu) : m_cpu(cpu), m_cache(cpu.code_pages()) {}

    /// Runs one block at cs:rip. Throws GuestFault (rip left at the faulting instruction),
    /// EngineFailure or ShutdownSignal; returns normally otherwise.
    void execute_block() {
        CpuCore& cpu = m_cpu;
        cpu.exit_block = false;
        cpu.instruction_rip = cpu.rip;
        const CodeBlock* block = block_at();
        for (const DecodedOp& op : block->ops) {
            cpu.instruction_rip = cpu.rip;
            cpu.rip += op.length;
            op.handler(cpu, op);
            if (cpu.exit_block) [[unlikely]]
                break;
        }
    }

    BlockCache& cache() { return m_cache; }

  private:
    const CodeBlock* block_at();
    std::unique_ptr<CodeBlock> decode_block(std::uint64_t linear, std::uint64_t ram_offset,
                                            const std::uint8_t* host, bool* cacheable);

    CpuCore& m_cpu;
    BlockCache m_cache;
    InstructionDecoder m_decoder;
    std::unique_ptr<CodeBlock> m_uncached; ///< a block holding one page-crossing instruction
};

} // namespace vessel::soft
