// Engine selection: KVM when it is real hardware virtualization, else the software engine.
#include "vm/engine_selection.hpp"

#include <fstream>
#include <string>

#include "base/log.hpp"
#include "engine/soft/soft_hypervisor.hpp"
#include "platform/pc/pc_soft_platform.hpp"

namespace vessel {

namespace {
/// The software engine on the PC platform (PIC, PIT, IOAPIC, local APICs) the vm layer gives it.
Result<std::unique_ptr<Hypervisor>> open_soft_engine(SoftTier tier = SoftTier::Translator) {
    return open_soft_hypervisor(tier, pc::PcSoftPlatform::factory());
}

bool host_has_hardware_virtualization() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        return line.find(" vmx") != std::string::npos || line.find(" svm") != std::string::npos;
    }
    return false;
}
} // namespace

Result<std::unique_ptr<Hypervisor>> open_engine(EngineChoice choice) {
    switch (choice) {
    case EngineChoice::Kvm:
        return open_kvm_hypervisor();
    case EngineChoice::Soft:
        return open_soft_engine(SoftTier::Translator);
    case EngineChoice::SoftInterpreter:
        return open_soft_engine(SoftTier::Interpreter);
    case EngineChoice::Auto:
        break;
    }
    if (!host_has_hardware_virtualization()) {
        log::info("engine: soft (the host CPU has no VT-x/AMD-V; KVM would emulate guest "
                  "kernel code)");
        return open_soft_engine();
    }
    auto kvm = open_kvm_hypervisor();
    if (kvm) {
        log::info("engine: kvm");
        return kvm;
    }
    log::info("engine: soft (KVM unavailable: {})", kvm.error().message);
    return open_soft_engine();
}

} // namespace vessel
