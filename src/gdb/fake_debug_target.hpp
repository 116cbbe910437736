// FakeDebugTarget: a DebugTarget over plain guest memory and register states, for the unit
// tests and the packet fuzzer (no engine, no threads).
#pragma once

#include <vector>

#include "gdb/debug_target.hpp"

namespace vessel::gdb {

class FakeDebugTarget final : public DebugTarget {
  public:
    FakeDebugTarget(GuestMemory memory, std::uint32_t vcpus,
                    std::optional<std::size_t> hardware_limit = std::nullopt)
        : m_memory(std::move(memory)), m_hardware_limit(hardware_limit), states(vcpus) {}

    std::uint32_t vcpu_count() const override { return static_cast<std::uint32_t>(states.size()); }
    Result<x86::CpuState> registers(std::uint32_t vcpu) override {
        if (vcpu >= states.size()) return make_error("no vCPU {}", vcpu);
        return states[vcpu];
    }
    Result<void> set_registers(std::uint32_t vcpu, const x86::CpuState& state) override {
        if (vcpu >= states.size()) return make_error("no vCPU {}", vcpu);
        states[vcpu] = state;
        return {};
    }
    Result<VectorRegisters> vector_registers(std::uint32_t vcpu) override {
        if (vcpu >= vectors.size()) return make_error("no vector registers for vCPU {}", vcpu);
        return vectors[vcpu];
    }
    Result<void> set_vector_registers(std::uint32_t vcpu,
                                      const VectorRegisters& registers) override {
        if (vcpu >= vectors.size()) return make_error("no vector registers for vCPU {}", vcpu);
        vectors[vcpu] = registers;
        return {};
    }
    GuestMemory& memory() override { return m_memory; }
    std::optional<std::size_t> hardware_point_limit() const override { return m_hardware_limit; }
    Result<void> resume(std::span<const GuestDebug> per_vcpu) override {
        last_resume.assign(per_vcpu.begin(), per_vcpu.end());
        ++resumes;
        return {};
    }

  private:
    GuestMemory m_memory;
    std::optional<std::size_t> m_hardware_limit;

  public:
    std::vector<x86::CpuState> states;    ///< per vCPU; tests set them directly
    std::vector<VectorRegisters> vectors; ///< per vCPU when the test gives them; else none
    std::vector<GuestDebug> last_resume;  ///< what the last resume() handed each vCPU
    unsigned resumes{0};
};

} // namespace vessel::gdb
