// SSE/SSE2 move handlers: 128-bit, scalar, half-register and GPR moves (movaps, movd, movss,
// movhps, movnti, ...).
#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/sse_operands.hpp"

namespace vessel::soft {

namespace {

template <bool Aligned> void op_move128(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    write_destination(cpu, op, 0, read_source(cpu, op, 1, 16, Aligned), 16, Aligned);
}

/// movd/movq between xmm, gpr and memory: loads into xmm zero the rest.
void op_movd_movq(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    const unsigned size =
        op.operands[0].kind == OperandKind::Xmm ? op.operands[1].size : op.operands[0].size;
    const unsigned width = size >= 8 ? 8 : 4;
    Xmm value = read_source(cpu, op, 1, width);
    value.q[0] &= size_mask(width);
    value.q[1] = 0;
    write_destination(cpu, op, 0, value, op.operands[0].kind == OperandKind::Xmm ? 16 : width);
}

/// movss/movsd (Size 4/8): register to register merges the low element; loads zero the rest.
template <unsigned Size> void op_move_scalar(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    if (op.operands[0].kind == OperandKind::Memory) {
        write_destination(cpu, op, 0, xmm(cpu, op.operands[1].index), Size);
        return;
    }
    Xmm source = read_source(cpu, op, 1, Size);
    if (op.operands[1].kind == OperandKind::Memory) {
        xmm(cpu, op.operands[0].index) = source;
        return;
    }
    Xmm& target = xmm(cpu, op.operands[0].index);
    if (Size == 8)
        target.q[0] = source.q[0];
    else
        target.set<std::uint32_t>(0, source.get<std::uint32_t>(0));
}

/// movlps/movlpd (High false) and movhps/movhpd (High true): 64-bit half loads and stores.
template <bool High> void op_move_half(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    if (op.operands[0].kind == OperandKind::Memory) {
        Xmm value;
        value.q[0] = xmm(cpu, op.operands[1].index).q[High ? 1 : 0];
        write_destination(cpu, op, 0, value, 8);
        return;
    }
    xmm(cpu, op.operands[0].index).q[High ? 1 : 0] = read_source(cpu, op, 1, 8).q[0];
}

void op_movhlps(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    xmm(cpu, op.operands[0].index).q[0] = xmm(cpu, op.operands[1].index).q[1];
}
void op_movlhps(CpuCore& cpu, const DecodedOp& op) {
    check_sse(cpu);
    xmm(cpu, op.operands[0].index).q[1] = xmm(cpu, op.operands[1].index).q[0];
}

/// movnti: a plain store of a GPR.
template <unsigned S> void op_movnti(CpuCore& cpu, const DecodedOp& op) {
    write_operand<S>(cpu, op, 0, read_operand<S>(cpu, op, 1));
}

} // namespace

OpHandler select_sse_move_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_MOVAPS:
    case ZYDIS_MNEMONIC_MOVAPD:
    case ZYDIS_MNEMONIC_MOVDQA:
    case ZYDIS_MNEMONIC_MOVNTDQ:
    case ZYDIS_MNEMONIC_MOVNTPS:
    case ZYDIS_MNEMONIC_MOVNTPD:
        return &op_move128<true>;
    case ZYDIS_MNEMONIC_MOVUPS:
    case ZYDIS_MNEMONIC_MOVUPD:
    case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_LDDQU:
        return &op_move128<false>;
    case ZYDIS_MNEMONIC_MOVD:
    case ZYDIS_MNEMONIC_MOVQ:
        if (op.operands[0].kind == OperandKind::Xmm || op.operands[1].kind == OperandKind::Xmm)
            return &op_movd_movq;
        return nullptr; // MMX forms
    case ZYDIS_MNEMONIC_MOVSS:
        return &op_move_scalar<4>;
    case ZYDIS_MNEMONIC_MOVSD:
        return &op_move_scalar<8>;
    case ZYDIS_MNEMONIC_MOVLPS:
    case ZYDIS_MNEMONIC_MOVLPD:
        return &op_move_half<false>;
    case ZYDIS_MNEMONIC_MOVHPS:
    case ZYDIS_MNEMONIC_MOVHPD:
        return &op_move_half<true>;
    case ZYDIS_MNEMONIC_MOVHLPS:
        return &op_movhlps;
    case ZYDIS_MNEMONIC_MOVLHPS:
        return &op_movlhps;
    case ZYDIS_MNEMONIC_MOVNTI:
        return op.operand_size == 8 ? &op_movnti<8> : &op_movnti<4>;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
