// CpuidPolicy: what the software CPU reports through CPUID; advertises only what it implements.
#pragma once

#include <cstdint>
#include <vector>

#include "arch/x86/cpuid_policy.hpp"
#include "engine/soft/cpu_model.hpp"

namespace vessel::soft {

/// The leaves the software CPU implements, before the per-vCPU policy: its counterpart of
/// KVM_GET_SUPPORTED_CPUID. Topology fields are left for x86::apply_cpuid_policy.
std::vector<x86::CpuidEntry> supported_cpuid();
/// The leaves of a software CPU of `model`: supported_cpuid() with the model's extensions.
std::vector<x86::CpuidEntry> supported_cpuid(CpuModel model);

/// The CPUID leaves of vCPU `cpu_index` in a VM of `cpu_count` vCPUs: supported_cpuid() with
/// Vessel's CPUID policy (arch/x86/cpuid_policy.hpp) applied, as the KVM engine applies it.
std::vector<x86::CpuidEntry> cpuid_entries(std::uint32_t cpu_index, std::uint32_t cpu_count);
/// As above, for a CPU of `model`.
std::vector<x86::CpuidEntry> cpuid_entries(std::uint32_t cpu_index, std::uint32_t cpu_count,
                                           CpuModel model);

} // namespace vessel::soft
