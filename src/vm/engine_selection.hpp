// Engine selection: opens the engine the user asked for, or the best one for this host.
#pragma once

#include <memory>

#include "engine/hypervisor.hpp"
#include "vm/machine_config.hpp"

namespace vessel {

/// Opens the requested engine. Auto uses KVM only when the host CPU has hardware
/// virtualization (vmx/svm), since KVM without it emulates guest kernel code instruction by
/// instruction; otherwise the software engine. Logs the choice and the reason.
Result<std::unique_ptr<Hypervisor>> open_engine(EngineChoice choice);

} // namespace vessel
