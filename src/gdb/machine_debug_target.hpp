// MachineDebugTarget: a Machine as the GDB session's DebugTarget.
#pragma once

#include "gdb/debug_target.hpp"
#include "vm/machine.hpp"

namespace vessel::gdb {

class MachineDebugTarget final : public DebugTarget {
  public:
    /// The KVM engine's debug registers (Intel SDM Vol. 3, 18.2: DR0-DR3).
    static constexpr std::size_t kvm_debug_registers = 4;

    explicit MachineDebugTarget(Machine& machine) : m_machine(machine) {}
    std::uint32_t vcpu_count() const override { return m_machine.vcpu_count(); }
    Result<x86::CpuState> registers(std::uint32_t vcpu) override {
        return m_machine.vcpu_state(vcpu);
    }
    Result<void> set_registers(std::uint32_t vcpu, const x86::CpuState& state) override {
        return m_machine.set_vcpu_state(vcpu, state);
    }
    Result<VectorRegisters> vector_registers(std::uint32_t vcpu) override {
        return m_machine.vcpu_vector_registers(vcpu);
    }
    Result<void> set_vector_registers(std::uint32_t vcpu,
                                      const VectorRegisters& registers) override {
        return m_machine.set_vcpu_vector_registers(vcpu, registers);
    }
    GuestMemory& memory() override { return m_machine.debug_memory(); }
    std::optional<std::size_t> hardware_point_limit() const override {
        if (m_machine.engine() == EngineKind::Kvm) return kvm_debug_registers;
        return std::nullopt; // the software engine checks every instruction itself
    }
    Result<void> resume(std::span<const GuestDebug> per_vcpu) override {
        for (std::uint32_t vcpu = 0; vcpu < per_vcpu.size(); ++vcpu)
            TRY_CONTEXT(m_machine.set_guest_debug(vcpu, per_vcpu[vcpu]),
                        fmt::format("vCPU {}", vcpu));
        m_machine.resume();
        return {};
    }

  private:
    Machine& m_machine;
};

} // namespace vessel::gdb
