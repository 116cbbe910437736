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
Result<std::unique_ptr<Hypervisor>> open_soft_engine(SoftTier tier = SoftTier::Translator,
                                                     const std::string& cpu_model = {}) {
    if (cpu_model.empty()) {
        // x86-64-v3 (AVX2, FMA, BMI) where the host runs it: the translator runs its vector
        // integer and move instructions as the host's own, as it does SSE. A host without AVX2
        // gets the highest model it can run.
        const soft::CpuModel model = soft::host_cannot_run(soft::CpuModel::V3).empty()
                                         ? soft::CpuModel::V3
                                         : soft::default_cpu_model();
        return open_soft_hypervisor(
            tier, pc::PcSoftPlatform::factory(/*halted_processors_wait=*/true), model);
    }
    const soft::CpuModel model = TRY_CONTEXT(soft::parse_cpu_model(cpu_model), "--cpu-model");
    return open_soft_hypervisor(tier, pc::PcSoftPlatform::factory(/*halted_processors_wait=*/true),
                                model);
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
    return open_engine(choice, std::string{});
}

Result<void> check_cpu_model(const std::string& cpu_model) {
    if (cpu_model.empty()) return {};
    const soft::CpuModel model = TRY_CONTEXT(soft::parse_cpu_model(cpu_model), "--cpu-model");
    if (const std::string problem = soft::host_cannot_run(model); !problem.empty())
        return make_error("--cpu-model: {}", problem);
    return {};
}

Result<std::unique_ptr<Hypervisor>> open_engine(EngineChoice choice, const std::string& cpu_model) {
    TRY(check_cpu_model(cpu_model));
    switch (choice) {
    case EngineChoice::Kvm:
        if (!cpu_model.empty())
            log::warn("--cpu-model {}: KVM passes the host's CPU features through; the model "
                      "applies to the software engine only",
                      cpu_model);
        return open_kvm_hypervisor();
    case EngineChoice::Soft:
        return open_soft_engine(SoftTier::Translator, cpu_model);
    case EngineChoice::SoftInterpreter:
        return open_soft_engine(SoftTier::Interpreter, cpu_model);
    case EngineChoice::Auto:
        break;
    }
    if (!host_has_hardware_virtualization()) {
        log::info("engine: soft (the host CPU has no VT-x/AMD-V; KVM would emulate guest "
                  "kernel code)");
        return open_soft_engine(SoftTier::Translator, cpu_model);
    }
    auto kvm = open_kvm_hypervisor();
    if (kvm) {
        log::info("engine: kvm");
        return kvm;
    }
    log::info("engine: soft (KVM unavailable: {})", kvm.error().message);
    return open_soft_engine(SoftTier::Translator, cpu_model);
}

} // namespace vessel
