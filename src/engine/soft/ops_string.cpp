// String instruction handlers (movs, stos, lods, cmps, scas, ins, outs) with rep/repe/repne.
#include <algorithm>
#include <cstring>

#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"

namespace vessel::soft {

namespace {

enum class StringOp { Movs, Stos, Lods, Cmps, Scas, Ins, Outs };

/// Iterations run before a rep instruction yields to interrupt checks and kicks; it resumes
/// where it stopped because rCX/rSI/rDI are updated per element (Intel SDM Vol. 2, REP).
constexpr std::uint64_t rep_batch = 4096;

/// rep movs / rep stos forward over RAM, a page-bounded run at a time (memcpy/memset speed).
/// Stops at anything the element loop must do: MMIO, a run shorter than one element,
/// overlapping moves (element order matters), the batch limit. Registers are updated after
/// each run, so a fault in the next one leaves them as hardware would. Returns the elements
/// done.
template <unsigned S, StringOp K>
std::uint64_t forward_runs(CpuCore& cpu, const DecodedOp& op, std::uint64_t mask) {
    const unsigned address_size = op.memory.address_size;
    std::uint64_t done = 0;
    while (done < rep_batch) {
        const std::uint64_t count = cpu.gpr[x86::rcx] & mask;
        if (count == 0) break;
        const std::uint64_t si = cpu.gpr[x86::rsi] & mask, di = cpu.gpr[x86::rdi] & mask;
        const std::uint64_t source = cpu.linear(op.memory.segment, si);
        const std::uint64_t destination = cpu.linear(es, di);
        std::uint64_t bytes = std::min<std::uint64_t>(count, rep_batch - done) * S;
        bytes = std::min<std::uint64_t>(bytes, 4096 - (destination & 0xfff));
        if (K == StringOp::Movs) bytes = std::min<std::uint64_t>(bytes, 4096 - (source & 0xfff));
        // The run may not wrap the address size.
        bytes = std::min<std::uint64_t>(bytes, mask - di + 1);
        if (K == StringOp::Movs) bytes = std::min<std::uint64_t>(bytes, mask - si + 1);
        bytes -= bytes % S;
        if (bytes == 0) break;
        const auto length = static_cast<unsigned>(bytes);
        const std::uint8_t* from = nullptr;
        if (K == StringOp::Movs) {
            from = cpu.readable_pointer(source, length);
            if (from == nullptr) break;
        }
        std::uint8_t* to = cpu.writable_pointer(destination, length);
        if (to == nullptr) break;
        if (K == StringOp::Movs) {
            if (to > from && to < from + length) break; // overlap: element order is visible
            std::memmove(to, from, length);
        } else if (S == 1) {
            std::memset(to, static_cast<int>(cpu.gpr[x86::rax] & 0xff), length);
        } else {
            const std::uint64_t value = cpu.gpr[x86::rax];
            for (unsigned offset = 0; offset < length; offset += S)
                std::memcpy(to + offset, &value, S);
        }
        cpu.note_ram_write(to); // decoded code on that page goes stale
        if (K == StringOp::Movs) cpu.set_reg_sized(address_size, x86::rsi, si + bytes);
        cpu.set_reg_sized(address_size, x86::rdi, di + bytes);
        cpu.set_reg_sized(address_size, x86::rcx, count - bytes / S);
        done += bytes / S;
    }
    return done;
}

template <unsigned S, StringOp K> void op_string(CpuCore& cpu, const DecodedOp& op) {
    const unsigned address_size = op.memory.address_size;
    const std::uint64_t mask = size_mask(address_size);
    if constexpr (K == StringOp::Movs || K == StringOp::Stos) {
        if (op.rep && !(cpu.rflags & x86::rflags::df) && (cpu.gpr[x86::rcx] & mask) != 0) {
            const std::uint64_t done = forward_runs<S, K>(cpu, op, mask);
            if ((cpu.gpr[x86::rcx] & mask) == 0) return;
            if (done >= rep_batch) {
                cpu.rip = cpu.instruction_rip; // continue in the next slice
                cpu.exit_block = true;
                return;
            }
        }
    }
    if (K == StringOp::Ins || K == StringOp::Outs)
        cpu.check_io_privilege(static_cast<std::uint16_t>(cpu.gpr[x86::rdx]), S);
    std::uint64_t count = cpu.gpr[x86::rcx] & mask;
    if (op.rep && count == 0) return;
    const std::int64_t step = (cpu.rflags & x86::rflags::df) ? -static_cast<std::int64_t>(S) : S;
    const auto port = static_cast<std::uint16_t>(cpu.gpr[x86::rdx]);
    // A compare's flags are set only when the instruction ends: when a fault hits a later
    // iteration of repe/repne cmps/scas, EFLAGS are as before the instruction (Intel SDM
    // Vol. 2B, REP/REPE/REPZ/REPNE/REPNZ). A stop at the batch limit leaves them so too: the
    // instruction restarts with at least one element to compare.
    std::uint64_t left = 0, right = 0;
    const auto set_compare_flags = [&] {
        if constexpr (K == StringOp::Cmps || K == StringOp::Scas)
            cpu.set_lazy(FlagOp::Sub, S, left, right, left - right);
    };
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
        case StringOp::Cmps:
            left = cpu.read<S>(source);
            right = cpu.read<S>(destination);
            advance_si = advance_di = true;
            break;
        case StringOp::Scas:
            left = cpu.reg<S>(x86::rax);
            right = cpu.read<S>(destination);
            advance_di = true;
            break;
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
        if (!op.rep) {
            set_compare_flags();
            return;
        }
        count = (count - 1) & mask;
        cpu.set_reg_sized(address_size, x86::rcx, count);
        bool stop = count == 0;
        if (K == StringOp::Cmps || K == StringOp::Scas) {
            const bool zero = ((left - right) & size_mask(S)) == 0;
            stop = stop || (op.rep == 1 && !zero) || (op.rep == 2 && zero);
        }
        if (stop) {
            set_compare_flags();
            return;
        }
    }
}

} // namespace

OpHandler select_string_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    if (instruction.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT) return nullptr; // SSE movsd etc.
    if (op.rep) op.ends_block = op.resumable = true; // may stop early and restart itself
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
