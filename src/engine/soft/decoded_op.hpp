// DecodedOp: one pre-decoded guest instruction, ready for its handler to execute.
#pragma once

#include <cstdint>

namespace vessel::soft {

class CpuCore;
struct DecodedOp;

/// Executes one instruction. cpu.rip already points past it when the handler runs.
using OpHandler = void (*)(CpuCore& cpu, const DecodedOp& op);

/// Where an explicit operand lives.
enum class OperandKind : std::uint8_t {
    None,
    Gpr,      ///< general-purpose register `index` (low bytes)
    GprHigh8, ///< ah/ch/dh/bh: bits 8-15 of register `index`
    Memory,   ///< DecodedOp::memory
    Immediate,
    Segment, ///< segment register in encoding order (es cs ss ds fs gs)
    Control, ///< crN
    Debug,   ///< drN
    Xmm,     ///< xmmN
    X87,     ///< st(N)
    Mmx,     ///< mmN (the significand of x87 physical register N)
};

struct Operand {
    OperandKind kind{OperandKind::None};
    std::uint8_t index{0};
    std::uint16_t size{0}; ///< bytes
};

constexpr std::uint8_t no_register = 0xff;

/// A memory operand: segment:[base + index * scale + displacement].
struct MemoryOperand {
    std::uint8_t segment{3}; ///< es cs ss ds fs gs = 0..5
    std::uint8_t base{no_register};
    std::uint8_t index{no_register};
    std::uint8_t scale_shift{0};
    std::uint8_t address_size{4}; ///< bytes: 2, 4 or 8
    bool rip_relative{false};
    /// VSIB (gathers): the xmm/ymm register whose elements are the indexes; `index` is then
    /// no_register (Intel SDM Vol. 2, 2.3.12).
    std::uint8_t vector_index{no_register};
    std::int64_t displacement{0};
};

/// Segment register numbers in encoding order (Intel SDM Vol. 2, 3.1.1.3).
enum SegmentIndex : std::uint8_t { es, cs, ss, ds, fs, gs };

struct DecodedOp {
    OpHandler handler{nullptr};
    Operand operands[3];
    MemoryOperand memory;
    std::uint64_t immediate{0};  ///< sign-extended where the encoding says so; branch displacement
    std::uint64_t immediate2{0}; ///< second immediate (enter level, far pointer selector)
    std::uint8_t length{0};
    std::uint8_t operand_size{4}; ///< bytes
    std::uint8_t rep{0};          ///< 0 none, 1 rep/repe, 2 repne
    bool lock{false};
    std::uint8_t condition{0}; ///< condition code (Intel SDM Vol. 1, B.1) for jcc/setcc/cmovcc
    bool ends_block{false};
    /// Ends the interpreter's block only because it may stop early and restart itself (rep
    /// string instructions): translated code goes on after it once it has completed.
    bool resumable{false};
    std::uint16_t mnemonic{0}; ///< ZydisMnemonic, for diagnostics and shared handlers
};

} // namespace vessel::soft
