// Engine selection: opens the engine the user asked for, or the best one for this host.
#pragma once

#include <memory>
#include <string>

#include "engine/hypervisor.hpp"
#include "vm/machine_config.hpp"

namespace vessel {

/// Opens the requested engine. Auto uses KVM only when the host CPU has hardware
/// virtualization (vmx/svm), since KVM without it emulates guest kernel code instruction by
/// instruction; otherwise the software engine. Logs the choice and the reason.
Result<std::unique_ptr<Hypervisor>> open_engine(EngineChoice choice);
/// As above; the software engine's vCPUs are of CPU model `cpu_model` (empty: the default).
/// An unknown model, or one this host cannot run, is an error naming it.
Result<std::unique_ptr<Hypervisor>> open_engine(EngineChoice choice, const std::string& cpu_model);
/// Checks a `--cpu-model` name without opening an engine: an error naming it if unknown or if
/// this host cannot run it.
Result<void> check_cpu_model(const std::string& cpu_model);

} // namespace vessel
