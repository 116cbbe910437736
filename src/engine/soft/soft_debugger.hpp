// SoftDebugger: breakpoints, watchpoints and single steps for a software vCPU. While a debugger
// has anything set, the vCPU runs the interpreter one instruction at a time and asks this class
// before and after each one; without a debugger it is never consulted.
#pragma once

#include <optional>
#include <vector>

#include "engine/guest_debug.hpp"
#include "engine/soft/cpu_core.hpp"

namespace vessel::soft {

class SoftDebugger {
  public:
    explicit SoftDebugger(CpuCore& cpu) : m_cpu(cpu) {}

    /// Takes a new set-up. A breakpoint at the current rip fires before that instruction runs:
    /// GDB removes a breakpoint it reported before it steps over it.
    void configure(const GuestDebug& debug);
    bool active() const { return m_debug.enabled; }
    /// Whether interrupts are held off now (stepping with NOIRQ; never for a halted CPU).
    bool holds_interrupts() const {
        return m_debug.enabled && m_debug.single_step && m_debug.step_interrupts_off &&
               !m_cpu.halted;
    }
    /// Before an instruction at cs:rip: the breakpoint that stops it, if any.
    std::optional<DebugEvent> before_instruction();
    /// After an instruction: a watchpoint it triggered, else the step, else nothing.
    std::optional<DebugEvent> after_instruction();
    /// Called by the memory path for each load and store while read or access watchpoints are
    /// set (CpuCore::access_watcher).
    void note_access(std::uint64_t linear, unsigned size, bool write);

  private:
    struct WatchedValue {
        DebugPoint point;
        std::vector<std::uint8_t> bytes; ///< empty while the range is not mapped
    };
    std::vector<std::uint8_t> read_watched(const DebugPoint& point) const;

    CpuCore& m_cpu;
    GuestDebug m_debug;
    std::vector<WatchedValue> m_watched;  ///< write and access points, with their last value
    std::optional<DebugEvent> m_read_hit; ///< a read/access watchpoint hit by the instruction
};

} // namespace vessel::soft
