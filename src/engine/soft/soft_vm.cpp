// SoftVm: platform creation and vCPU construction for the software engine.
#include "engine/soft/soft_vm.hpp"

#include <fmt/format.h>

#include "base/log.hpp"
#include "base/thread_cpu_time.hpp"
#include "engine/soft/soft_vcpu.hpp"

namespace vessel::soft {

Result<std::unique_ptr<SoftVm>> SoftVm::create(VmContext context, SoftTier tier,
                                               const SoftPlatformFactory& platform_factory) {
    if (context.cpu_count == 0) return make_error("soft engine: a VM needs at least one vCPU");
    auto platform =
        TRY_CONTEXT(platform_factory(context.io_bus, context.mmio_bus, context.cpu_count),
                    "soft engine platform");
    return std::unique_ptr<SoftVm>(new SoftVm(context, std::move(platform), tier));
}

Result<std::unique_ptr<SoftVm>> SoftVm::create(VmContext context, SoftTier tier,
                                               const SoftPlatformFactory& platform_factory,
                                               CpuModel model) {
    auto vm = TRY(create(context, tier, platform_factory));
    vm->m_model = model;
    return vm;
}

Result<std::unique_ptr<Vcpu>> SoftVm::create_vcpu(std::uint32_t index) {
    if (index >= m_context.cpu_count)
        return make_error("soft engine: vCPU {} requested but the VM has {} vCPUs", index,
                          m_context.cpu_count);
    const bool account = log::enabled(log::Level::debug);
    const double start = account ? thread_cpu_milliseconds() : 0;
    auto vcpu = std::unique_ptr<SoftVcpu>(new SoftVcpu(m_context.memory, m_context.io_bus,
                                                       m_context.mmio_bus, *m_platform,
                                                       m_code_pages, index, m_context.cpu_count));
    vcpu->core().set_cpu_model(m_model);
    const double core = account ? thread_cpu_milliseconds() : 0;
    if (m_tier == SoftTier::Translator)
        TRY_CONTEXT(vcpu->enable_translator(), fmt::format("soft engine vCPU {}", index));
    if (account)
        log::debug("soft engine: vCPU {} built using {:.3f} ms of CPU (CPU core and interpreter "
                   "{:.3f} ms, translator {:.3f} ms)",
                   index, thread_cpu_milliseconds() - start, core - start,
                   thread_cpu_milliseconds() - core);
    return std::unique_ptr<Vcpu>(std::move(vcpu));
}

} // namespace vessel::soft
