// CpuidPolicy: what the software CPU reports through CPUID; advertises only what it implements.
#pragma once

#include <cstdint>

namespace vessel::soft {

struct CpuidResult {
    std::uint32_t eax{0}, ebx{0}, ecx{0}, edx{0};
};

/// The CPUID leaves of vCPU `cpu_index` in a VM of `cpu_count` vCPUs.
CpuidResult cpuid_leaf(std::uint32_t leaf, std::uint32_t subleaf, std::uint32_t cpu_index,
                       std::uint32_t cpu_count);

} // namespace vessel::soft
