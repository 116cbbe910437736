// SSE/SSE2 handler selection: moves, then the xmm forms of the packed integer and floating-point
// instructions (MMX forms are not handled).
#include "engine/soft/handlers.hpp"

namespace vessel::soft {

OpHandler select_sse_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    if (OpHandler handler = select_sse_move_handler(instruction, op)) return handler;
    // The remaining forms all have an xmm destination or source; MMX (mm) forms are not handled.
    // cvt(t)ss2si / cvt(t)sd2si with a memory source name no xmm register at all.
    const bool xmm_form = op.operands[0].kind == OperandKind::Xmm ||
                          op.operands[1].kind == OperandKind::Xmm ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_CVTSS2SI ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_CVTTSS2SI ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_CVTSD2SI ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_CVTTSD2SI ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_LDMXCSR ||
                          instruction.mnemonic == ZYDIS_MNEMONIC_STMXCSR;
    if (!xmm_form) return nullptr;
    if (OpHandler handler = select_sse_integer_handler(instruction, op)) return handler;
    return select_sse_float_handler(instruction, op);
}

} // namespace vessel::soft
