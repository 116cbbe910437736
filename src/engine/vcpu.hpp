// Vcpu: one virtual CPU of either engine, run on its own host thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "arch/x86/cpu_state.hpp"
#include "base/result.hpp"
#include "base/state_archive.hpp"
#include "engine/guest_debug.hpp"
#include "engine/vector_registers.hpp"

namespace vessel {

/// Why Vcpu::run() returned.
struct VcpuExit {
    enum class Kind {
        Kicked,   ///< kick() was called (stop, pause); the vCPU may be run again
        Shutdown, ///< triple fault / shutdown condition
        Halted,   ///< hlt with interrupts disabled and nothing able to wake it
        Error,    ///< the engine cannot continue (message says why)
        Debug,    ///< a breakpoint, watchpoint or single step of GuestDebug (see `debug`)
    };
    Kind kind;
    std::uint64_t rip{0};
    std::string message;
    DebugEvent debug{}; ///< with Kind::Debug: what stopped the vCPU
};

/// A virtual CPU. set_state/state/run are called from the vCPU's thread; kick from any.
class Vcpu {
  public:
    virtual ~Vcpu() = default;
    virtual std::uint32_t index() const = 0;
    virtual Result<void> set_state(const x86::CpuState& state) = 0;
    virtual Result<x86::CpuState> state() = 0;
    /// Runs guest code, dispatching port I/O and MMIO to the VM's buses, until kicked or a
    /// terminal event. Returns promptly (microseconds to milliseconds) after kick().
    virtual VcpuExit run() = 0;
    /// Asks run() to return with Kind::Kicked; safe from any thread, also before run().
    virtual void kick() = 0;
    /// Clears a previous kick so run() can be entered again (called by the vCPU's thread).
    virtual void clear_kick() = 0;

    // ---- snapshots (docs/SNAPSHOT_FORMAT.md); only while the vCPU is not running ----

    /// Writes the vCPU's architectural state (registers, x87/SSE, MSRs, pending events).
    virtual Result<void> save_snapshot(StateWriter&) {
        return make_error("this engine cannot save vCPU state for a snapshot");
    }
    /// Replaces the vCPU's state with a saved one; on error the vCPU must not be run.
    virtual Result<void> load_snapshot(StateReader&) {
        return make_error("this engine cannot restore vCPU state from a snapshot");
    }
    /// The processor after the platform left a sleep state that removed CPU power (ACPI S3):
    /// a power-on reset, its local APIC included; then it runs from `start` (the BSP at the
    /// firmware waking vector) or, without one, waits for INIT-SIPI-SIPI (application
    /// processors). The vCPU's thread, while the vCPU is not running.
    virtual Result<void> reset_after_sleep(const std::optional<x86::CpuState>& start) {
        (void)start;
        return make_error("this engine cannot resume a vCPU from a sleep state");
    }

    /// Sets breakpoints, watchpoints and stepping for the next run() (vCPU's thread, or any
    /// thread while the vCPU is parked). Fails, saying why, where the engine cannot do it.
    virtual Result<void> set_guest_debug(const GuestDebug& debug) {
        (void)debug;
        return make_error("this engine has no guest debugging");
    }
    /// The SSE/AVX registers for a debugger (vCPU's thread, or any thread while it is parked).
    virtual Result<VectorRegisters> vector_registers() {
        return make_error("this engine does not give a debugger its vector registers");
    }
    /// Sets them (XCR0 excepted: it must keep its value); fails for a reserved MXCSR bit.
    virtual Result<void> set_vector_registers(const VectorRegisters& registers) {
        (void)registers;
        return make_error("this engine does not let a debugger set its vector registers");
    }
};

} // namespace vessel
