// InstructionDecoder: turns guest instruction bytes into DecodedOps using Zydis.
#pragma once

#include <Zydis/Zydis.h>

#include <cstddef>
#include <cstdint>

#include "engine/soft/cpu_core.hpp"
#include "engine/soft/decoded_op.hpp"

namespace vessel::soft {

class InstructionDecoder {
  public:
    InstructionDecoder();

    enum class Status {
        Ok,          ///< op is ready (its handler may still be op_invalid for #UD)
        Invalid,     ///< not an x86 instruction in this mode: op raises #UD
        Unsupported, ///< valid, but the interpreter has no handler: op fails the engine
        Truncated,   ///< the bytes end inside the instruction
    };

    /// Decodes the instruction at bytes[0..length) for `mode` into op (always fills a handler).
    Status decode(CpuMode mode, const std::uint8_t* bytes, std::size_t length, DecodedOp& op) const;

  private:
    ZydisDecoder m_decoders[6]; ///< indexed by CpuMode
};

} // namespace vessel::soft
