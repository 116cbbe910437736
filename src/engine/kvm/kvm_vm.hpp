// KvmVm: a KVM virtual machine with in-kernel irqchip (PIC, IOAPIC, local APICs) and PIT.
#pragma once

#include <memory>

#include "engine/hypervisor.hpp"
#include "engine/kvm/kvm_system.hpp"

namespace vessel::kvm {

class KvmVm final : public Vm {
  public:
    static Result<std::unique_ptr<KvmVm>> create(std::shared_ptr<KvmSystem> system,
                                                 VmContext context);

    EngineKind kind() const override { return EngineKind::Kvm; }
    Result<std::unique_ptr<Vcpu>> create_vcpu(std::uint32_t index) override;
    void set_irq_level(std::uint32_t gsi, bool level) override;
    void signal_msi(std::uint64_t address, std::uint32_t data) override;

  private:
    KvmVm(std::shared_ptr<KvmSystem> system, VmContext context, UniqueFd fd)
        : m_system(std::move(system)), m_context(context), m_fd(std::move(fd)) {}
    Result<void> set_up();

    std::shared_ptr<KvmSystem> m_system;
    VmContext m_context;
    UniqueFd m_fd;
};

} // namespace vessel::kvm
