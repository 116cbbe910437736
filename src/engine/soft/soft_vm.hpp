// SoftVm: a VM of the software engine; owns the interrupt/timer platform and the code-page map.
#pragma once

#include <memory>

#include "engine/hypervisor.hpp"
#include "engine/soft/code_pages.hpp"
#include "engine/soft/soft_platform.hpp"

namespace vessel::soft {

class SoftVm final : public Vm {
  public:
    static Result<std::unique_ptr<SoftVm>> create(VmContext context);

    EngineKind kind() const override { return EngineKind::Soft; }
    Result<std::unique_ptr<Vcpu>> create_vcpu(std::uint32_t index) override;
    void set_irq_level(std::uint32_t gsi, bool level) override {
        m_platform->set_irq_level(gsi, level);
    }

    SoftPlatform& platform() { return *m_platform; }

  private:
    SoftVm(VmContext context, std::unique_ptr<SoftPlatform> platform)
        : m_context(context), m_platform(std::move(platform)), m_code_pages(context.memory.size()) {
    }

    VmContext m_context;
    std::unique_ptr<SoftPlatform> m_platform;
    CodePages m_code_pages;
};

} // namespace vessel::soft
