// GuestDebug: what a debugger asks a vCPU to watch for (breakpoints, watchpoints, stepping),
// and the DebugEvent a vCPU reports when one of them stops it.
#pragma once

#include <cstdint>
#include <vector>

namespace vessel {

/// What a hardware-style debug point fires on (GDB's Z1-Z4; Intel SDM Vol. 3, 18.2.4 R/W bits).
enum class DebugPointKind : std::uint8_t {
    Execute, ///< instruction fetch at the address (a hardware breakpoint)
    Write,   ///< a store touching [address, address + length)
    Read,    ///< a load touching the range
    Access,  ///< a load or a store touching the range
};

/// One breakpoint or watchpoint on a linear (virtual) address range.
struct DebugPoint {
    DebugPointKind kind{DebugPointKind::Execute};
    std::uint64_t address{0};
    std::uint64_t length{1};
    bool operator==(const DebugPoint&) const = default;
};

/// The debug set-up of one vCPU. An engine limits what it can do (KVM: 4 debug registers).
struct GuestDebug {
    bool enabled{false};     ///< false: no debugger, every field below is ignored
    bool single_step{false}; ///< stop after the next instruction
    /// While stepping, take no interrupts and no timer ticks (QEMU's sstepbits NOIRQ|NOTIMER),
    /// so a step lands on the next instruction of the code being debugged.
    bool step_interrupts_off{true};
    std::vector<std::uint64_t> software_breakpoints; ///< linear addresses (GDB's Z0)
    std::vector<DebugPoint> hardware_points;         ///< GDB's Z1-Z4
};

/// Why a debugged vCPU stopped (VcpuExit::Kind::Debug).
struct DebugEvent {
    enum class Kind : std::uint8_t { Step, Breakpoint, Watchpoint };
    Kind kind{Kind::Step};
    std::uint64_t address{0}; ///< breakpoint rip, or the watched address that was accessed
    DebugPointKind watch_kind{DebugPointKind::Write};
};

} // namespace vessel
