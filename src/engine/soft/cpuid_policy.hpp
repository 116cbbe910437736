// CpuidPolicy: what the software CPU reports through CPUID; advertises only what it implements.
#pragma once

#include <cstdint>
#include <vector>

#include "arch/x86/cpuid_policy.hpp"

namespace vessel::soft {

/// The leaves the software CPU implements, before the per-vCPU policy: its counterpart of
/// KVM_GET_SUPPORTED_CPUID. Topology fields are left for x86::apply_cpuid_policy.
std::vector<x86::CpuidEntry> supported_cpuid();

/// The CPUID leaves of vCPU `cpu_index` in a VM of `cpu_count` vCPUs: supported_cpuid() with
/// Vessel's CPUID policy (arch/x86/cpuid_policy.hpp) applied, as the KVM engine applies it.
std::vector<x86::CpuidEntry> cpuid_entries(std::uint32_t cpu_index, std::uint32_t cpu_count);

} // namespace vessel::soft
