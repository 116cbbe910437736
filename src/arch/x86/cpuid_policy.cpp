// CPUID policy: per-vCPU topology fields and removal of features Vessel does not provide.
#include "arch/x86/cpuid_policy.hpp"

#include <algorithm>

namespace vessel::x86 {

namespace {
// CPUID.01H bits (Intel SDM Vol. 2A, CPUID, tables 3-10 and 3-11).
constexpr std::uint32_t leaf1_ecx_monitor = 1u << 3; ///< MONITOR/MWAIT
constexpr std::uint32_t leaf1_ecx_vmx = 1u << 5;     ///< no nested VMX
constexpr std::uint32_t leaf1_ecx_smx = 1u << 6;
constexpr std::uint32_t leaf1_ecx_est = 1u << 7; ///< SpeedStep
constexpr std::uint32_t leaf1_ecx_tm2 = 1u << 8;
constexpr std::uint32_t leaf1_ecx_pdcm = 1u << 15; ///< perfmon capabilities MSR
constexpr std::uint32_t leaf1_ecx_hypervisor = 1u << 31;
constexpr std::uint32_t leaf1_edx_acpi = 1u << 22; ///< thermal monitor MSRs
constexpr std::uint32_t leaf1_edx_tm = 1u << 29;
constexpr std::uint32_t leaf1_edx_htt = 1u << 28; ///< more than one logical CPU
constexpr std::uint32_t leaf_thermal_power = 0x06;
constexpr std::uint32_t leaf_performance_monitoring = 0x0a;
constexpr std::uint32_t leaf_extended_topology = 0x0b;
constexpr std::uint32_t leaf_extended_topology_v2 = 0x1f;
// CPUID.01H:EBX: bits 0-15 brand index and clflush size, 16-23 logical processor count,
// 24-31 initial APIC ID.
constexpr std::uint32_t leaf1_ebx_kept = 0x0000ffff;
constexpr unsigned leaf1_ebx_count_shift = 16;
constexpr unsigned leaf1_ebx_apic_id_shift = 24;
// CPUID.0BH:ECX bits 8-15: level type (Intel SDM Vol. 2A, CPUID, table 3-8).
constexpr std::uint32_t level_type_smt = 1u << 8;
constexpr std::uint32_t level_type_core = 2u << 8;

/// Leaf 0xb/0x1f subleaf `entry.index` for one thread per core, all cores in one package:
/// level 0 SMT, level 1 core, then the invalid level that ends the list.
void set_extended_topology(CpuidEntry& entry, std::uint32_t cpu_index, std::uint32_t cpu_count) {
    entry.edx = cpu_index; // x2APIC ID
    if (entry.index == 0) {
        entry.eax = 0; // no bits of the APIC ID select the thread
        entry.ebx = 1;
        entry.ecx = level_type_smt | 0;
    } else if (entry.index == 1) {
        std::uint32_t shift = 0;
        while ((1u << shift) < cpu_count)
            ++shift;
        entry.eax = shift; // APIC ID bits that select the core
        entry.ebx = cpu_count;
        entry.ecx = level_type_core | 1;
    } else {
        entry.eax = entry.ebx = 0;
        entry.ecx = entry.index;
    }
}
} // namespace

void apply_cpuid_policy(std::vector<CpuidEntry>& entries, std::uint32_t cpu_index,
                        std::uint32_t cpu_count) {
    std::erase_if(entries, [](const CpuidEntry& entry) {
        return entry.function == leaf_thermal_power ||
               entry.function == leaf_performance_monitoring;
    });
    for (auto& entry : entries) {
        switch (entry.function) {
        case 0x01:
            entry.ebx = (entry.ebx & leaf1_ebx_kept) |
                        ((cpu_count & 0xff) << leaf1_ebx_count_shift) |
                        (cpu_index << leaf1_ebx_apic_id_shift);
            entry.ecx &= ~(leaf1_ecx_monitor | leaf1_ecx_vmx | leaf1_ecx_smx | leaf1_ecx_est |
                           leaf1_ecx_tm2 | leaf1_ecx_pdcm);
            entry.ecx |= leaf1_ecx_hypervisor;
            entry.edx &= ~(leaf1_edx_acpi | leaf1_edx_tm);
            if (cpu_count > 1)
                entry.edx |= leaf1_edx_htt;
            else
                entry.edx &= ~leaf1_edx_htt;
            break;
        case leaf_extended_topology:
        case leaf_extended_topology_v2:
            set_extended_topology(entry, cpu_index, cpu_count);
            break;
        default:
            break;
        }
    }
}

CpuidEntry find_cpuid_entry(const std::vector<CpuidEntry>& entries, std::uint32_t function,
                            std::uint32_t index) {
    for (const CpuidEntry& entry : entries)
        if (entry.function == function && (!entry.significant_index || entry.index == index))
            return entry;
    return CpuidEntry{function, index, false, 0, 0, 0, 0};
}

} // namespace vessel::x86
