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
/// the hypervisor bit, the topology (one thread per core, `cpu_count` cores in one package:
/// leaf 1 and the extended topology leaves 0xb/0x1f when the engine lists them), and no leaves
/// for hardware Vessel does not virtualize (performance monitoring, thermal and power
/// management, machine-check banks). Both engines apply it: KVM to KVM_GET_SUPPORTED_CPUID,
/// the software engine to its own feature set.
void apply_cpuid_policy(std::vector<CpuidEntry>& entries, std::uint32_t cpu_index,
                        std::uint32_t cpu_count);

/// What CPUID returns for leaf `function`, subleaf `index` from `entries` (the subleaf counts
/// only for entries marked significant_index); all zero for a leaf `entries` does not list.
CpuidEntry find_cpuid_entry(const std::vector<CpuidEntry>& entries, std::uint32_t function,
                            std::uint32_t index);

} // namespace vessel::x86
