// RegisterLoans: memory-kept guest GPRs borrowing unused host registers in a loop region
// (register_loans.hpp).
#include "engine/soft/translator/register_loans.hpp"

#include <algorithm>
#include <array>

#include "engine/soft/translator/instruction_classes.hpp"
#include "engine/soft/translator/jit_runtime.hpp"

namespace vessel::soft {

namespace {

/// Every GPR the instruction names, explicitly or not (Zydis lists hidden operands too: a
/// string instruction's rsi, rdi and rcx, a multiply's rdx, a push's rsp).
template <typename Visit> void for_each_register(const GuestInstruction& guest, Visit&& visit) {
    for (unsigned i = 0; i < guest.instruction.operand_count; ++i) {
        const ZydisDecodedOperand& operand = guest.operands[i];
        if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER) {
            visit(operand.reg.value);
        } else if (operand.type == ZYDIS_OPERAND_TYPE_MEMORY) {
            visit(operand.mem.base);
            visit(operand.mem.index);
        }
    }
}

ZydisRegister renamed_register(ZydisRegister reg, const RegisterLoans& loans) {
    const int number = gpr_number(reg);
    if (number < 0) return reg;
    for (const RegisterLoan& loan : loans.span())
        if (static_cast<unsigned>(number) == loan.borrower) return with_number(reg, loan.lender);
    return reg;
}

} // namespace

RegisterLoans lend_registers(std::span<GuestInstruction> instructions) {
    RegisterLoans loans;
    std::array<unsigned, 16> uses{};
    for (const GuestInstruction& guest : instructions) {
        if (!guest.decoded) return loans;
        for_each_register(guest, [&uses](ZydisRegister reg) {
            if (const int number = gpr_number(reg); number >= 0)
                ++uses[static_cast<std::size_t>(number)];
        });
    }
    std::array<unsigned, 4> borrowers{10, 13, 14, 15};
    std::stable_sort(borrowers.begin(), borrowers.end(),
                     [&uses](unsigned a, unsigned b) { return uses[a] > uses[b]; });
    constexpr unsigned lenders[] = {3, 5, 12, 6, 7, 1, 2, 0, 8, 9, 11};
    std::size_t next_lender = 0;
    for (unsigned borrower : borrowers) {
        if (uses[borrower] == 0 || loans.count == RegisterLoans::max) break;
        while (next_lender < std::size(lenders) && uses[lenders[next_lender]] != 0)
            ++next_lender;
        if (next_lender == std::size(lenders)) break;
        const unsigned lender = lenders[next_lender++];
        static_assert(host_register_of(3) == 3 && host_register_of(11) == 11);
        loans.loans[loans.count++] = {borrower, lender};
    }
    if (loans.count == 0) return loans;
    for (GuestInstruction& guest : instructions) {
        bool changed = false;
        for (unsigned i = 0; i < guest.instruction.operand_count; ++i) {
            ZydisDecodedOperand& operand = guest.operands[i];
            if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER) {
                const ZydisRegister reg = renamed_register(operand.reg.value, loans);
                changed |= reg != operand.reg.value;
                operand.reg.value = reg;
            } else if (operand.type == ZYDIS_OPERAND_TYPE_MEMORY) {
                const ZydisRegister base = renamed_register(operand.mem.base, loans);
                const ZydisRegister index = renamed_register(operand.mem.index, loans);
                changed |= base != operand.mem.base || index != operand.mem.index;
                operand.mem.base = base;
                operand.mem.index = index;
            }
        }
        guest.renamed = changed;
    }
    return loans;
}

} // namespace vessel::soft
