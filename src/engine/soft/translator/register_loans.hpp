// RegisterLoans: in a loop region, guest GPRs that live in memory (r10, r13-r15: see
// host_register_of) borrow the host registers of guest GPRs the loop never names. The region's
// instructions are rewritten to name the lender instead of the borrower, the region swaps the
// two values on entry (the borrower's value into the host register, the lender's into the
// borrower's memory home) and swaps them back wherever it leaves or calls the interpreter, so
// that everything outside the loop sees the usual convention. docs/SOFT_CPU.md, "loop regions".
#pragma once

#include <cstddef>
#include <span>

#include "engine/soft/translator/block_analysis.hpp"

namespace vessel::soft {

struct RegisterLoan {
    unsigned borrower{0}; ///< a guest GPR kept in memory
    unsigned lender{0};   ///< a guest GPR in the host register of its own number, unused here
};

struct RegisterLoans {
    static constexpr std::size_t max = 4;
    RegisterLoan loans[max];
    std::size_t count{0};
    std::span<const RegisterLoan> span() const { return {loans, count}; }
};

/// Picks loans for a region's `instructions` (every memory-kept GPR they name, most named
/// first, while unnamed lenders last: rbx, rbp, r12 first, whose host registers helpers keep)
/// and rewrites their operands to name the lenders (GuestInstruction::renamed). None when an
/// instruction is not decoded (its registers are unknown).
RegisterLoans lend_registers(std::span<GuestInstruction> instructions);

} // namespace vessel::soft
