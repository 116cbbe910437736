// The software engine's Hypervisor: always available, builds SoftVms.
#include "engine/hypervisor.hpp"
#include "engine/soft/soft_vm.hpp"

namespace vessel {

namespace {

class SoftHypervisor final : public Hypervisor {
  public:
    explicit SoftHypervisor(SoftTier tier) : m_tier(tier) {}
    EngineKind kind() const override { return EngineKind::Soft; }
    Result<std::unique_ptr<Vm>> create_vm(VmContext context) override {
        auto vm = TRY(soft::SoftVm::create(context, m_tier));
        return std::unique_ptr<Vm>(std::move(vm));
    }

  private:
    SoftTier m_tier;
};

} // namespace

Result<std::unique_ptr<Hypervisor>> open_soft_hypervisor(SoftTier tier) {
    return std::unique_ptr<Hypervisor>(new SoftHypervisor(tier));
}

} // namespace vessel
