// String instruction handlers (movs, stos, lods, cmps, scas, ins, outs) with rep/repe/repne.
#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"

namespace vessel::soft {

namespace {

enum class StringOp { Movs, Stos, Lods, Cmps, Scas, Ins, Outs };

/// Iterations run before a rep instruction yields to interrupt checks and kicks; it resumes
/// where it stopped because rCX/rSI/rDI are updated per element (Intel SDM Vol. 2, REP).
constexpr std::uint64_t rep_batch = 4096;

template <unsigned S, StringOp K> void op_string(CpuCore& cpu, const DecodedOp& op) {
    const unsigned address_size = op.memory.address_size;
    const std::uint64_t mask = size_mask(address_size);
    if (K == StringOp::Ins || K == StringOp::Outs)
        cpu.check_io_privilege(static_cast<std::uint16_t>(cpu.gpr[x86::rdx]), S);
    std::uint64_t count = cpu.gpr[x86::rcx] & mask;
    if (op.rep && count == 0) return;
    const std::int64_t step = (cpu.rflags & x86::rflags::df) ? -static_cast<std::int64_t>(S) : S;
    const auto port = static_cast<std::uint16_t>(cpu.gpr[x86::rdx]);
    for (std::uint64_t done = 0;; ++done) {
        if (op.rep && done == rep_batch) {
            cpu.rip = cpu.instruction_rip; // continue in the next slice
            cpu.exit_block = true;
            return;
        }
        const std::uint64_t si = cpu.gpr[x86::rsi] & mask, di = cpu.gpr[x86::rdi] & mask;
        const std::uint64_t source = cpu.linear(op.memory.segment, si);
        const std::uint64_t destination = cpu.linear(es, di);
        bool advance_si = false, advance_di = false;
        switch (K) {
        case StringOp::Movs:
            cpu.write<S>(destination, cpu.read<S>(source));
            advance_si = advance_di = true;
            break;
        case StringOp::Stos:
            cpu.write<S>(destination, cpu.gpr[x86::rax]);
            advance_di = true;
            break;
        case StringOp::Lods:
            cpu.set_reg<S>(x86::rax, cpu.read<S>(source));
            advance_si = true;
            break;
        case StringOp::Cmps: {
            const std::uint64_t a = cpu.read<S>(source), b = cpu.read<S>(destination);
            cpu.set_lazy(FlagOp::Sub, S, a, b, a - b);
            advance_si = advance_di = true;
            break;
        }
        case StringOp::Scas: {
            const std::uint64_t a = cpu.reg<S>(x86::rax), b = cpu.read<S>(destination);
            cpu.set_lazy(FlagOp::Sub, S, a, b, a - b);
            advance_di = true;
            break;
        }
        case StringOp::Ins: {
            // Probe the destination before the port read, which may have side effects.
            cpu.translate(destination, access_write, cpu.cpl == 3);
            cpu.write<S>(destination, cpu.port_in(port, S));
            advance_di = true;
            break;
        }
        case StringOp::Outs:
            cpu.port_out(port, S, cpu.read<S>(source));
            advance_si = true;
            break;
        }
        if (advance_si)
            cpu.set_reg_sized(address_size, x86::rsi, si + static_cast<std::uint64_t>(step));
        if (advance_di)
            cpu.set_reg_sized(address_size, x86::rdi, di + static_cast<std::uint64_t>(step));
        if (!op.rep) return;
        count = (count - 1) & mask;
        cpu.set_reg_sized(address_size, x86::rcx, count);
        if (count == 0) return;
        if (K == StringOp::Cmps || K == StringOp::Scas) {
            const bool zero = (cpu.lazy.result & size_mask(S)) == 0;
            if (op.rep == 1 && !zero) return;
            if (op.rep == 2 && zero) return;
        }
    }
}

} // namespace

OpHandler select_string_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    if (instruction.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT) return nullptr; // SSE movsd etc.
    if (op.rep) op.ends_block = true; // may stop early and restart itself
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_MOVSB:
        return &op_string<1, StringOp::Movs>;
    case ZYDIS_MNEMONIC_MOVSW:
        return &op_string<2, StringOp::Movs>;
    case ZYDIS_MNEMONIC_MOVSD:
        return &op_string<4, StringOp::Movs>;
    case ZYDIS_MNEMONIC_MOVSQ:
        return &op_string<8, StringOp::Movs>;
    case ZYDIS_MNEMONIC_STOSB:
        return &op_string<1, StringOp::Stos>;
    case ZYDIS_MNEMONIC_STOSW:
        return &op_string<2, StringOp::Stos>;
    case ZYDIS_MNEMONIC_STOSD:
        return &op_string<4, StringOp::Stos>;
    case ZYDIS_MNEMONIC_STOSQ:
        return &op_string<8, StringOp::Stos>;
    case ZYDIS_MNEMONIC_LODSB:
        return &op_string<1, StringOp::Lods>;
    case ZYDIS_MNEMONIC_LODSW:
        return &op_string<2, StringOp::Lods>;
    case ZYDIS_MNEMONIC_LODSD:
        return &op_string<4, StringOp::Lods>;
    case ZYDIS_MNEMONIC_LODSQ:
        return &op_string<8, StringOp::Lods>;
    case ZYDIS_MNEMONIC_CMPSB:
        return &op_string<1, StringOp::Cmps>;
    case ZYDIS_MNEMONIC_CMPSW:
        return &op_string<2, StringOp::Cmps>;
    case ZYDIS_MNEMONIC_CMPSD:
        return &op_string<4, StringOp::Cmps>;
    case ZYDIS_MNEMONIC_CMPSQ:
        return &op_string<8, StringOp::Cmps>;
    case ZYDIS_MNEMONIC_SCASB:
        return &op_string<1, StringOp::Scas>;
    case ZYDIS_MNEMONIC_SCASW:
        return &op_string<2, StringOp::Scas>;
    case ZYDIS_MNEMONIC_SCASD:
        return &op_string<4, StringOp::Scas>;
    case ZYDIS_MNEMONIC_SCASQ:
        return &op_string<8, StringOp::Scas>;
    case ZYDIS_MNEMONIC_INSB:
        return &op_string<1, StringOp::Ins>;
    case ZYDIS_MNEMONIC_INSW:
        return &op_string<2, StringOp::Ins>;
    case ZYDIS_MNEMONIC_INSD:
        return &op_string<4, StringOp::Ins>;
    case ZYDIS_MNEMONIC_OUTSB:
        return &op_string<1, StringOp::Outs>;
    case ZYDIS_MNEMONIC_OUTSW:
        return &op_string<2, StringOp::Outs>;
    case ZYDIS_MNEMONIC_OUTSD:
        return &op_string<4, StringOp::Outs>;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
