// CPUID policy: what Vessel tells a guest about its virtual CPU, whatever engine runs it.
#pragma once

#include <cstdint>
#include <vector>

namespace vessel::x86 {

/// One CPUID leaf/subleaf result (mirrors struct kvm_cpuid_entry2's useful fields).
struct CpuidEntry {
    std::uint32_t function;
    std::uint32_t index;
    bool significant_index; ///< the subleaf (ECX) selects this entry
    std::uint32_t eax, ebx, ecx, edx;
};

/// Turns the engine-supported leaves into what vCPU `cpu_index` of `cpu_count` sees: APIC IDs,
/// the hypervisor bit, logical processor counts, and no leaves for hardware Vessel does not
/// virtualize (performance monitoring, thermal and power management, machine-check banks).
void apply_cpuid_policy(std::vector<CpuidEntry>& entries, std::uint32_t cpu_index,
                        std::uint32_t cpu_count);

} // namespace vessel::x86
