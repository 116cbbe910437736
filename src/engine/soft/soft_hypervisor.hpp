// open_soft_hypervisor: the software engine's entry point; the caller supplies the platform.
#pragma once

#include <memory>

#include "engine/hypervisor.hpp"
#include "engine/soft/cpu_model.hpp"
#include "engine/soft/soft_platform.hpp"

namespace vessel {

/// How the software engine runs guest code: translated to host code where it is hot (the
/// default), or interpreted only (for debugging and comparison).
enum class SoftTier { Translator, Interpreter };

/// Opens the software engine; always available. Each VM it creates gets its interrupt and
/// timer hardware from `platform` (the vm layer passes the PC platform, platform/pc).
Result<std::unique_ptr<Hypervisor>> open_soft_hypervisor(SoftTier tier,
                                                         soft::SoftPlatformFactory platform);
/// As above, with the vCPUs of every VM being `model` (the other form uses default_cpu_model()).
Result<std::unique_ptr<Hypervisor>>
open_soft_hypervisor(SoftTier tier, soft::SoftPlatformFactory platform, soft::CpuModel model);

} // namespace vessel
