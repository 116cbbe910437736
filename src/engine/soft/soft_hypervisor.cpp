// The software engine's Hypervisor: always available, builds SoftVms.
#include "engine/hypervisor.hpp"
#include "engine/soft/soft_vm.hpp"

namespace vessel {

namespace {

class SoftHypervisor final : public Hypervisor {
  public:
    EngineKind kind() const override { return EngineKind::Soft; }
    Result<std::unique_ptr<Vm>> create_vm(VmContext context) override {
        auto vm = TRY(soft::SoftVm::create(context));
        return std::unique_ptr<Vm>(std::move(vm));
    }
};

} // namespace

Result<std::unique_ptr<Hypervisor>> open_soft_hypervisor() {
    return std::unique_ptr<Hypervisor>(new SoftHypervisor());
}

} // namespace vessel
