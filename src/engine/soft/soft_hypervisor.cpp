// The software engine's Hypervisor: always available, builds SoftVms.
#include "engine/soft/soft_hypervisor.hpp"

#include "engine/soft/soft_vm.hpp"

namespace vessel {

namespace {

class SoftHypervisor final : public Hypervisor {
  public:
    SoftHypervisor(SoftTier tier, soft::SoftPlatformFactory platform, soft::CpuModel model)
        : m_tier(tier), m_platform(std::move(platform)), m_model(model) {}
    EngineKind kind() const override { return EngineKind::Soft; }
    Result<std::unique_ptr<Vm>> create_vm(VmContext context) override {
        auto vm = TRY(soft::SoftVm::create(context, m_tier, m_platform, m_model));
        return std::unique_ptr<Vm>(std::move(vm));
    }

  private:
    SoftTier m_tier;
    soft::SoftPlatformFactory m_platform;
    soft::CpuModel m_model;
};

} // namespace

Result<std::unique_ptr<Hypervisor>> open_soft_hypervisor(SoftTier tier,
                                                         soft::SoftPlatformFactory platform) {
    return open_soft_hypervisor(tier, std::move(platform), soft::default_cpu_model());
}

Result<std::unique_ptr<Hypervisor>>
open_soft_hypervisor(SoftTier tier, soft::SoftPlatformFactory platform, soft::CpuModel model) {
    if (!platform) return make_error("soft engine: no platform factory given");
    if (const std::string problem = soft::host_cannot_run(model); !problem.empty())
        return make_error("soft engine: {}", problem);
    return std::unique_ptr<Hypervisor>(new SoftHypervisor(tier, std::move(platform), model));
}

} // namespace vessel
