// KvmVm: a KVM virtual machine with in-kernel irqchip (PIC, IOAPIC, local APICs) and PIT.
#pragma once

#include <atomic>
#include <memory>

#include "base/event_loop.hpp"
#include "engine/hypervisor.hpp"
#include "engine/kvm/kvm_msi_router.hpp"
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
    std::unique_ptr<MsiRoute> create_msi_route() override;
    Result<std::unique_ptr<Doorbell>> add_doorbell(std::uint64_t address, unsigned width,
                                                   Ring ring) override;
    EngineCounters engine_counters() const override;

  private:
    KvmVm(std::shared_ptr<KvmSystem> system, VmContext context, UniqueFd fd)
        : m_system(std::move(system)), m_context(context), m_fd(std::move(fd)) {}
    Result<void> set_up();

    std::shared_ptr<KvmSystem> m_system;
    VmContext m_context;
    UniqueFd m_fd;
    std::unique_ptr<KvmMsiRouter> m_msi_router; ///< null without KVM_CAP_IRQFD / IRQ_ROUTING
    /// The I/O thread serving doorbells; null without KVM_CAP_IOEVENTFD. Devices remove their
    /// doorbells before the Vm goes, so it stops with nothing registered.
    std::unique_ptr<EventLoop> m_io_loop;
    std::atomic<std::uint64_t> m_doorbell_rings{0};
};

} // namespace vessel::kvm
