// The software engine's Hypervisor: always available, builds SoftVms.
#include "engine/soft/soft_hypervisor.hpp"

#include "engine/soft/soft_vm.hpp"

namespace vessel {

namespace {

class SoftHypervisor final : public Hypervisor {
  public:
    SoftHypervisor(SoftTier tier, soft::SoftPlatformFactory platform)
        : m_tier(tier), m_platform(std::move(platform)) {}
    EngineKind kind() const override { return EngineKind::Soft; }
    Result<std::unique_ptr<Vm>> create_vm(VmContext context) override {
        auto vm = TRY(soft::SoftVm::create(context, m_tier, m_platform));
        return std::unique_ptr<Vm>(std::move(vm));
    }

  private:
    SoftTier m_tier;
    soft::SoftPlatformFactory m_platform;
};

} // namespace

Result<std::unique_ptr<Hypervisor>> open_soft_hypervisor(SoftTier tier,
                                                         soft::SoftPlatformFactory platform) {
    if (!platform) return make_error("soft engine: no platform factory given");
    return std::unique_ptr<Hypervisor>(new SoftHypervisor(tier, std::move(platform)));
}

} // namespace vessel
