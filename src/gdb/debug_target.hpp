// DebugTarget: what the GDB session needs from a VM (a Machine in Vessel, a fake in tests).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "arch/x86/cpu_state.hpp"
#include "base/result.hpp"
#include "engine/guest_debug.hpp"
#include "engine/vector_registers.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::gdb {

/// Every call but resume() is made while all vCPUs are stopped.
class DebugTarget {
  public:
    virtual ~DebugTarget() = default;
    virtual std::uint32_t vcpu_count() const = 0;
    virtual Result<x86::CpuState> registers(std::uint32_t vcpu) = 0;
    virtual Result<void> set_registers(std::uint32_t vcpu, const x86::CpuState& state) = 0;
    /// SSE/AVX registers; an error where the engine does not offer them (GDB then shows them
    /// as unavailable).
    virtual Result<VectorRegisters> vector_registers(std::uint32_t vcpu) {
        (void)vcpu;
        return make_error("no vector registers");
    }
    virtual Result<void> set_vector_registers(std::uint32_t vcpu,
                                              const VectorRegisters& registers) {
        (void)vcpu;
        (void)registers;
        return make_error("no vector registers");
    }
    virtual GuestMemory& memory() = 0;
    /// How many hardware breakpoints/watchpoints the engine has; nullopt: any number.
    virtual std::optional<std::size_t> hardware_point_limit() const = 0;
    /// Gives each vCPU its set-up (one per vCPU, in index order) and lets them all run.
    virtual Result<void> resume(std::span<const GuestDebug> per_vcpu) = 0;
};

} // namespace vessel::gdb
