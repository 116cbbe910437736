// BlockExecutor: how a software vCPU runs guest code, one dispatch at a time (interpreter or
// translator).
#pragma once

namespace vessel::soft {

class BlockExecutor {
  public:
    virtual ~BlockExecutor() = default;
    /// Runs guest code from cs:rip: at least one instruction, and at most `budget` blocks
    /// (decremented by the blocks run, never below zero). Throws GuestFault with rip left at the
    /// faulting instruction, EngineFailure or ShutdownSignal; sets CpuCore::exit_block when the
    /// run loop must look at interrupts or mode changes before the next dispatch.
    virtual void execute(unsigned& budget) = 0;
};

} // namespace vessel::soft
