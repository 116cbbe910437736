// KvmHypervisor: the KVM engine's entry point.
#include "base/kvm_uapi.hpp"

#include "engine/kvm/kvm_vm.hpp"

namespace vessel {

namespace {
class KvmHypervisor final : public Hypervisor {
  public:
    explicit KvmHypervisor(std::shared_ptr<kvm::KvmSystem> system) : m_system(std::move(system)) {}
    EngineKind kind() const override { return EngineKind::Kvm; }
    Result<std::unique_ptr<Vm>> create_vm(VmContext context) override {
        auto vm = TRY(kvm::KvmVm::create(m_system, context));
        return std::unique_ptr<Vm>(std::move(vm));
    }

  private:
    std::shared_ptr<kvm::KvmSystem> m_system;
};
} // namespace

Result<std::unique_ptr<Hypervisor>> open_kvm_hypervisor() {
    auto system = TRY(kvm::KvmSystem::open());
    return std::make_unique<KvmHypervisor>(std::make_shared<kvm::KvmSystem>(std::move(system)));
}

std::string_view engine_name(EngineKind kind) {
    return kind == EngineKind::Kvm ? "kvm" : "soft";
}

} // namespace vessel
