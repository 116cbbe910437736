// CpuCore MSRs: rdmsr/wrmsr of the MSRs the software CPU implements, the TSC, and the local APIC
// MSRs it forwards to the platform (Intel SDM Vol. 4, 2.1).
#include "arch/x86/canonical.hpp"
#include "arch/x86/msr.hpp"
#include "engine/soft/cpu_core.hpp"
#include "engine/soft/soft_platform.hpp"

namespace vessel::soft {

namespace {

/// IA32_ARCH_CAPABILITIES (Intel SDM Vol. 4, 2.1): an interpreter and a translator do not
/// speculate, so the software CPU is immune to every transient-execution attack the register
/// can declare: RDCL_NO (Meltdown, L1TF), IBRS_ALL (enhanced IBRS, so no retpolines),
/// SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO, PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO, FBSDP_NO, PSDP_NO
/// (MMIO stale data), BHI_NO, PBRSB_NO, GDS_NO, RFDS_NO and ITS_NO. Without it a guest kernel
/// isolates its page tables (a CR3 write on every system call), clears buffers with verw on
/// every return to user mode and routes indirect branches through retpoline thunks.
constexpr std::uint64_t arch_capabilities_value =
    (1ull << 0) | (1ull << 1) | (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 6) |
    (1ull << 8) | (1ull << 13) | (1ull << 14) | (1ull << 15) | (1ull << 20) | (1ull << 24) |
    (1ull << 26) | (1ull << 27) | (1ull << 62);
/// What IA32_BIOS_SIGN_ID reports as the loaded microcode revision.
constexpr std::uint32_t microcode_revision = 1;

/// IA32_MCG_CAP (Intel SDM Vol. 3, 15.3.1.1): the bank count and MCG_CTL_P (IA32_MCG_CTL exists).
constexpr std::uint64_t mcg_ctl_present = 1u << 8;
constexpr std::uint64_t mcg_cap_value = CpuCore::machine_check_banks | mcg_ctl_present;
constexpr std::uint32_t mc_bank_end = x86::msr::mc_bank_first + 4 * CpuCore::machine_check_banks;
/// Register of a bank MSR: 0 CTL, 1 STATUS, 2 ADDR, 3 MISC.
enum BankRegister : unsigned { bank_ctl, bank_status, bank_address, bank_misc };

/// IA32_APIC_BASE (Intel SDM Vol. 3A 11.4.4) and the CPUID bits that go with it.
constexpr std::uint64_t apic_base_extd = 1u << 10;
constexpr std::uint64_t apic_base_enable = 1u << 11;
constexpr std::uint32_t cpuid1_ecx_x2apic = 1u << 21;
constexpr std::uint32_t cpuid1_edx_apic = 1u << 9;

/// CPUID.1:EDX.APIC reads 0 while IA32_APIC_BASE.EN is clear (SDM Vol. 3A 11.4.3), as KVM
/// updates its CPUID table when the guest writes the MSR.
void follow_apic_enable(std::vector<x86::CpuidEntry>& table, std::uint64_t apic_base) {
    for (x86::CpuidEntry& entry : table) {
        if (entry.function != 1) continue;
        if (apic_base & apic_base_enable)
            entry.edx |= cpuid1_edx_apic;
        else
            entry.edx &= ~cpuid1_edx_apic;
    }
}

} // namespace

std::uint64_t CpuCore::tsc() {
    const std::uint64_t base = m_platform->tsc();
    return base + static_cast<std::uint64_t>(tsc_offset);
}

bool CpuCore::read_msr(std::uint32_t number, std::uint64_t& value) {
    switch (number) {
    case x86::msr::tsc:
        value = tsc();
        return true;
    case x86::msr::tsc_adjust:
        value = static_cast<std::uint64_t>(tsc_offset);
        return true;
    case x86::msr::apic_base:
        value = m_platform->apic_base(m_index);
        return true;
    case x86::msr::efer:
        value = efer;
        return true;
    case x86::msr::star:
        value = star;
        return true;
    case x86::msr::lstar:
        value = lstar;
        return true;
    case x86::msr::cstar:
        value = cstar;
        return true;
    case x86::msr::sfmask:
        value = sfmask;
        return true;
    case x86::msr::fs_base:
        value = segments[fs].base;
        return true;
    case x86::msr::gs_base:
        value = segments[gs].base;
        return true;
    case x86::msr::kernel_gs_base:
        value = kernel_gs_base;
        return true;
    case x86::msr::tsc_aux:
        value = tsc_aux;
        return true;
    case x86::msr::pat:
        value = pat;
        return true;
    case x86::msr::misc_enable:
        value = misc_enable;
        return true;
    case x86::msr::spec_ctrl:
        value = spec_ctrl;
        return true;
    case x86::msr::arch_capabilities:
        value = arch_capabilities_value;
        return true;
    case x86::msr::bios_sign_id:
        value = std::uint64_t{microcode_revision} << 32; // Intel SDM Vol. 3, 10.11.7.1
        return true;
    case x86::msr::sysenter_cs:
        value = sysenter_cs;
        return true;
    case x86::msr::sysenter_esp:
        value = sysenter_esp;
        return true;
    case x86::msr::sysenter_eip:
        value = sysenter_eip;
        return true;
    case x86::msr::mtrr_cap:
        value = 0;
        return true;
    case x86::msr::mtrr_def_type:
        value = mtrr_def_type;
        return true;
    case x86::msr::tsc_deadline:
        value = m_platform->tsc_deadline(m_index);
        return true;
    case x86::msr::mcg_cap:
        value = mcg_cap_value;
        return true;
    case x86::msr::mcg_status:
        value = mcg_status;
        return true;
    case x86::msr::mcg_ctl:
        value = mcg_ctl;
        return true;
    default:
        break;
    }
    if (number >= x86::msr::mc_bank_first && number < mc_bank_end) {
        const unsigned offset = number - x86::msr::mc_bank_first;
        value = machine_check_bank[offset / 4][offset % 4];
        return true;
    }
    if (number >= x86::msr::x2apic_first && number <= x86::msr::x2apic_last)
        return m_platform->x2apic_msr_read(m_index, number, value);
    return false;
}

bool CpuCore::write_msr(std::uint32_t number, std::uint64_t value) {
    using x86::is_canonical;
    switch (number) {
    case x86::msr::tsc:
        tsc_offset =
            static_cast<std::int64_t>(value - tsc() + static_cast<std::uint64_t>(tsc_offset));
        return true;
    case x86::msr::tsc_adjust:
        // Writing TSC_ADJUST moves the TSC by the same amount (Intel SDM Vol. 3, 17.17.3).
        tsc_offset = static_cast<std::int64_t>(value);
        return true;
    case x86::msr::apic_base:
        // EXTD (x2APIC mode) exists only where CPUID offers x2APIC (Intel SDM Vol. 3A 11.12.1);
        // the platform refuses the other invalid values and transitions (SDM 11.12.5).
        if ((value & apic_base_extd) &&
            !(x86::find_cpuid_entry(cpuid_table, 1, 0).ecx & cpuid1_ecx_x2apic))
            return false;
        if (!m_platform->set_apic_base(m_index, value)) return false;
        follow_apic_enable(cpuid_table, m_platform->apic_base(m_index));
        flush_tlb(true);
        return true;
    case x86::msr::efer:
        set_efer(value);
        return true;
    case x86::msr::star:
        star = value;
        return true;
    case x86::msr::lstar:
        if (!is_canonical(value)) return false;
        lstar = value;
        return true;
    case x86::msr::cstar:
        if (!is_canonical(value)) return false; // as LSTAR (Intel SDM Vol. 4, 2.1)
        cstar = value;
        return true;
    case x86::msr::sfmask:
        sfmask = value & 0xffff'ffff;
        return true;
    case x86::msr::fs_base:
        if (!is_canonical(value)) return false;
        segments[fs].base = value;
        update_mode();
        return true;
    case x86::msr::gs_base:
        if (!is_canonical(value)) return false;
        segments[gs].base = value;
        update_mode();
        return true;
    case x86::msr::kernel_gs_base:
        if (!is_canonical(value)) return false;
        kernel_gs_base = value;
        return true;
    case x86::msr::tsc_aux:
        tsc_aux = value & 0xffff'ffff;
        return true;
    case x86::msr::pat:
        pat = value;
        return true;
    case x86::msr::misc_enable:
        misc_enable = value;
        return true;
    case x86::msr::spec_ctrl:
        if ((value & ~std::uint64_t{0x407}) != 0) return false; // IBRS STIBP SSBD BHI_DIS_S
        spec_ctrl = value;
        return true;
    case x86::msr::pred_cmd:
        return (value & ~std::uint64_t{1}) == 0; // IBPB: no predictor to flush
    case x86::msr::bios_sign_id:
        return true; // software writes 0 before CPUID to read the revision back
    case x86::msr::sysenter_cs:
        sysenter_cs = value;
        return true;
    case x86::msr::sysenter_esp:
        sysenter_esp = value;
        return true;
    case x86::msr::sysenter_eip:
        sysenter_eip = value;
        return true;
    case x86::msr::mtrr_def_type:
        mtrr_def_type = value;
        return true;
    case x86::msr::tsc_deadline:
        m_platform->set_tsc_deadline(m_index, value);
        return true;
    case x86::msr::mcg_status:
        mcg_status = value;
        return true;
    case x86::msr::mcg_ctl:
        if (value != 0 && value != ~std::uint64_t{0}) return false;
        mcg_ctl = value;
        return true;
    default:
        break;
    }
    if (number >= x86::msr::mc_bank_first && number < mc_bank_end) {
        // Error-reporting enables are all or nothing, and software may only clear a status
        // (Intel SDM Vol. 3, 15.3.2.1-2; as KVM enforces).
        const unsigned offset = number - x86::msr::mc_bank_first;
        if (offset % 4 == bank_ctl && value != 0 && value != ~std::uint64_t{0}) return false;
        if (offset % 4 == bank_status && value != 0) return false;
        machine_check_bank[offset / 4][offset % 4] = value;
        return true;
    }
    if (number >= x86::msr::x2apic_first && number <= x86::msr::x2apic_last)
        return m_platform->x2apic_msr_write(m_index, number, value);
    return false;
}

} // namespace vessel::soft
