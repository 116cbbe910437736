// CpuCore control registers: writes to CR0, CR3, CR4 and EFER with their checks and the TLB
// flushes and mode changes they cause (Intel SDM Vol. 3, 2.5 and 2.2.1).
#include "engine/soft/cpu_core.hpp"
#include "engine/soft/cr4_bits.hpp"
#include "engine/soft/protection_bits.hpp"

namespace vessel::soft {

void CpuCore::set_cr0(std::uint64_t value) {
    value |= x86::cr0::et;
    if ((value & x86::cr0::pg) && !(value & x86::cr0::pe))
        raise(x86::vector::general_protection, 0);
    const std::uint64_t changed = cr0 ^ value;
    if ((value & x86::cr0::pg) && !(cr0 & x86::cr0::pg) && (efer & x86::efer::lme)) {
        if (!(cr4 & x86::cr4::pae)) raise(x86::vector::general_protection, 0);
        efer |= x86::efer::lma;
    }
    if (!(value & x86::cr0::pg)) {
        if (long_mode_active() && mode == CpuMode::Long64)
            raise(x86::vector::general_protection, 0);
        efer &= ~x86::efer::lma;
    }
    cr0 = value;
    if (changed & (x86::cr0::pg | x86::cr0::pe | x86::cr0::wp)) flush_tlb(true);
    update_mode();
    exit_block = true;
}

void CpuCore::set_cr3(std::uint64_t value) {
    cr3 = value;
    flush_tlb(false);
}

void CpuCore::set_cr4(std::uint64_t value) {
    if (value & ~cr4_bits_offered(isa_features)) raise(x86::vector::general_protection, 0);
    if (long_mode_active() && !(value & x86::cr4::pae)) raise(x86::vector::general_protection, 0);
    const std::uint64_t changed = cr4 ^ value;
    cr4 = value;
    if (changed & (x86::cr4::pse | x86::cr4::pae | x86::cr4::pge | protection::cr4_paging_bits))
        flush_tlb(true);
    exit_block = true;
}

void CpuCore::set_efer(std::uint64_t value) {
    constexpr std::uint64_t writable = x86::efer::sce | x86::efer::lme | x86::efer::nxe;
    if (value & ~(writable | x86::efer::lma)) raise(x86::vector::general_protection, 0);
    if (paging() && ((value ^ efer) & x86::efer::lme)) raise(x86::vector::general_protection, 0);
    efer = (value & writable) | (efer & x86::efer::lma);
    flush_tlb(true);
    update_mode();
    exit_block = true;
}

} // namespace vessel::soft
