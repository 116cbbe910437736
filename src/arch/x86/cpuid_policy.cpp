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
            entry.ebx = (entry.ebx & 0x0000ffff) | ((cpu_count & 0xff) << 16) | (cpu_index << 24);
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
            // One thread per core, all cores in one package: level 0 SMT, level 1 core.
            entry.edx = cpu_index;
            if (entry.index == 0) {
                entry.eax = 0;
                entry.ebx = 1;
                entry.ecx = (1u << 8) | 0;
            } else if (entry.index == 1) {
                std::uint32_t shift = 0;
                while ((1u << shift) < cpu_count)
                    ++shift;
                entry.eax = shift;
                entry.ebx = cpu_count;
                entry.ecx = (2u << 8) | 1;
            } else {
                entry.eax = entry.ebx = 0;
                entry.ecx = entry.index;
            }
            break;
        default:
            break;
        }
    }
}

} // namespace vessel::x86
