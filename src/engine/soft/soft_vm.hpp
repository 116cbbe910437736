// SoftVm: a VM of the software engine; owns its interrupt/timer platform and the code-page map.
#pragma once

#include <memory>

#include "engine/hypervisor.hpp"
#include "engine/soft/code_pages.hpp"
#include "engine/soft/cpu_model.hpp"
#include "engine/soft/soft_hypervisor.hpp"
#include "engine/soft/soft_platform.hpp"

namespace vessel::soft {

class SoftVm final : public Vm {
  public:
    /// Builds the VM and its platform (through `platform`, on the context's buses).
    static Result<std::unique_ptr<SoftVm>> create(VmContext context, SoftTier tier,
                                                  const SoftPlatformFactory& platform);
    /// As above, with vCPUs of CPU model `model` (the other form: default_cpu_model()).
    static Result<std::unique_ptr<SoftVm>>
    create(VmContext context, SoftTier tier, const SoftPlatformFactory& platform, CpuModel model);

    EngineKind kind() const override { return EngineKind::Soft; }
    Result<std::unique_ptr<Vcpu>> create_vcpu(std::uint32_t index) override;
    void set_irq_level(std::uint32_t gsi, bool level) override {
        m_platform->set_irq_level(gsi, level);
    }
    void signal_msi(std::uint64_t address, std::uint32_t data) override {
        m_platform->signal_msi(address, data);
    }
    ~SoftVm() override { m_context.memory.set_write_observer(nullptr); }

    SoftPlatform& platform() { return *m_platform; }
    Result<void> save_snapshot(StateWriter& writer) override {
        return m_platform->save_snapshot(writer);
    }
    Result<void> load_snapshot(StateReader& reader) override {
        return m_platform->load_snapshot(reader);
    }

  private:
    SoftVm(VmContext context, std::unique_ptr<SoftPlatform> platform, SoftTier tier)
        : m_context(context), m_platform(std::move(platform)), m_code_pages(context.memory.size()),
          m_tier(tier) {
        // Device DMA into RAM must drop decoded code just as a vCPU store does.
        m_context.memory.set_write_observer(&m_code_pages);
    }

    VmContext m_context;
    std::unique_ptr<SoftPlatform> m_platform;
    CodePages m_code_pages;
    SoftTier m_tier;
    CpuModel m_model{default_cpu_model()};
};

} // namespace vessel::soft
