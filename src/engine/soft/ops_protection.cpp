// Handlers of the system instructions beyond x86-64-v3 that the max model offers: stac and clac
// (SMAP), rdpkru and wrpkru (protection keys), rdrand and rdseed, rdpid, and the cache-line
// flushes (Intel SDM Vol. 2; Vol. 3, 4.6).
#include <sys/random.h>

#include <cstring>

#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/protection_bits.hpp"

namespace vessel::soft {

namespace {

/// STAC/CLAC: #UD without SMAP or above CPL 0. Clearing AC closes the SMAP window
/// (CpuCore::set_flags), so TLB entries it opened go.
template <bool set> void op_alignment_check_flag(CpuCore& cpu, const DecodedOp&) {
    cpu.require_feature(isa::smap);
    if (cpu.cpl != 0) cpu.raise(x86::vector::invalid_opcode);
    const std::uint64_t flags = cpu.flags();
    cpu.set_flags(set ? (flags | x86::rflags::ac) : (flags & ~x86::rflags::ac));
}

/// RDPKRU/WRPKRU: #UD while CR4.PKE is clear, #GP(0) with ECX (and for wrpkru EDX) not 0.
void check_pkru_access(CpuCore& cpu) {
    if (!(cpu.cr4 & protection::cr4_pke)) cpu.raise(x86::vector::invalid_opcode);
    if ((cpu.gpr[x86::rcx] & 0xffff'ffff) != 0) cpu.raise(x86::vector::general_protection, 0);
}

void op_rdpkru(CpuCore& cpu, const DecodedOp&) {
    check_pkru_access(cpu);
    cpu.set_reg<4>(x86::rax, cpu.pkru);
    cpu.set_reg<4>(x86::rdx, 0);
}

void op_wrpkru(CpuCore& cpu, const DecodedOp&) {
    check_pkru_access(cpu);
    if ((cpu.gpr[x86::rdx] & 0xffff'ffff) != 0) cpu.raise(x86::vector::general_protection, 0);
    const auto value = static_cast<std::uint32_t>(cpu.gpr[x86::rax]);
    if (value == cpu.pkru) return;
    cpu.pkru = value;
    cpu.flush_tlb(true); // entries of user pages were filled under the old keys' rights
}

/// RDRAND/RDSEED: random bits from the host kernel's generator (getrandom), CF=1; when it has
/// none at hand, 0 and CF=0, which tells the guest to retry. OF SF ZF AF PF are cleared.
template <std::uint32_t feature> void op_random(CpuCore& cpu, const DecodedOp& op) {
    cpu.require_feature(feature);
    const unsigned size = op.operands[0].size;
    std::uint64_t value = 0;
    const bool ok = getrandom(&value, size, GRND_NONBLOCK) == static_cast<ssize_t>(size);
    if (!ok) value = 0;
    cpu.set_reg_sized(size, op.operands[0].index, value);
    cpu.set_flags((cpu.flags() & ~arithmetic_flags) | (ok ? x86::rflags::cf : 0));
}

/// RDPID: IA32_TSC_AUX into a 64-bit register in 64-bit mode, a 32-bit one elsewhere.
void op_rdpid(CpuCore& cpu, const DecodedOp& op) {
    cpu.require_feature(isa::rdpid);
    cpu.set_reg_sized(cpu.mode == CpuMode::Long64 ? 8 : 4, op.operands[0].index, cpu.tsc_aux);
}

/// CLFLUSH, CLFLUSHOPT, CLWB: no caches to write back, but the operand is checked like a
/// one-byte read (#PF, SMAP, non-canonical #GP), as hardware does.
template <std::uint32_t feature> void op_cache_line_flush(CpuCore& cpu, const DecodedOp& op) {
    if constexpr (feature != 0) cpu.require_feature(feature);
    cpu.translate(cpu.linear_address(op), access_read, cpu.cpl == 3);
}

} // namespace

OpHandler select_protection_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_STAC:
        return &op_alignment_check_flag<true>;
    case ZYDIS_MNEMONIC_CLAC:
        return &op_alignment_check_flag<false>;
    case ZYDIS_MNEMONIC_RDPKRU:
        return &op_rdpkru;
    case ZYDIS_MNEMONIC_WRPKRU:
        op.ends_block = true; // the TLB may have been flushed
        return &op_wrpkru;
    case ZYDIS_MNEMONIC_RDRAND:
        return &op_random<isa::rdrand>;
    case ZYDIS_MNEMONIC_RDSEED:
        return &op_random<isa::rdseed>;
    case ZYDIS_MNEMONIC_RDPID:
        return &op_rdpid;
    case ZYDIS_MNEMONIC_CLFLUSH:
        return &op_cache_line_flush<0>;
    case ZYDIS_MNEMONIC_CLFLUSHOPT:
        return &op_cache_line_flush<isa::clflushopt>;
    case ZYDIS_MNEMONIC_CLWB:
        return &op_cache_line_flush<isa::clwb>;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
