// SoftVcpu: one vCPU of the software engine, run by the interpreter on the vCPU's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "engine/soft/cpu_core.hpp"
#include "engine/soft/interpreter.hpp"
#include "engine/soft/soft_debugger.hpp"
#include "engine/soft/translator/translator.hpp"
#include "engine/vcpu.hpp"

namespace vessel::soft {

class SoftPlatform;

class SoftVcpu final : public Vcpu {
  public:
    /// Blocks run between platform polls (timers) and kick checks.
    static constexpr unsigned blocks_per_poll = 64;

    SoftVcpu(GuestMemory& memory, Bus& io_bus, Bus& mmio_bus, SoftPlatform& platform,
             CodePages& code_pages, std::uint32_t index, std::uint32_t cpu_count);

    ~SoftVcpu() override;
    std::uint32_t index() const override { return m_index; }
    Result<void> set_state(const x86::CpuState& state) override;
    Result<x86::CpuState> state() override;
    VcpuExit run() override;
    void kick() override;
    void clear_kick() override;
    Result<void> save_snapshot(StateWriter& writer) override;
    Result<void> load_snapshot(StateReader& reader) override;
    Result<void> reset_after_sleep(const std::optional<x86::CpuState>& start) override;
    /// Any number of breakpoints and watchpoints; while set, the interpreter runs one
    /// instruction at a time (the translation tier waits until the debugger clears them).
    Result<void> set_guest_debug(const GuestDebug& debug) override;
    Result<VectorRegisters> vector_registers() override;
    Result<void> set_vector_registers(const VectorRegisters& registers) override;

    /// The interpreter's CPU (tests inspect FPU/SSE registers and caches through it).
    CpuCore& core() { return *m_core; }
    Interpreter& interpreter() { return *m_interpreter; }
    /// Runs hot code through the translation tier from now on (the interpreter stays the cold
    /// tier and the fallback).
    Result<void> enable_translator(Translator::Options options = {});
    /// The translation tier, or nullptr when the vCPU only interprets.
    Translator* translator() { return m_translator.get(); }
    /// A vCPU halted for at least 97% of such a window gives its decoded and translated code
    /// back to the host when it holds more than idle_release_blocks, once per idle spell: an
    /// idle guest then costs little more than its RAM, and what it still runs is decoded again.
    static constexpr std::chrono::seconds idle_window{4};
    static constexpr std::size_t idle_release_blocks = 8000;
    /// Frees the decoded blocks and translated code and returns the heap's free memory to the
    /// host. Only on the vCPU's own thread, between dispatches.
    void release_idle_memory();

  private:
    /// Delivers a pending external interrupt if the CPU accepts one now.
    void check_interrupts();
    /// Executes blocks until `budget` (decremented per block) runs out or an instruction ends
    /// the batch; delivers a fault raised on the way.
    void run_blocks(unsigned& budget);
    std::string describe_failure(const std::string& message);
    /// Runs one instruction under the debugger (counted against `budget`); returns the event
    /// that stops the vCPU, if any.
    std::optional<DebugEvent> run_debugged_instruction(unsigned& budget);
    /// Runs one instruction with RFLAGS.TF set and takes the single-step trap after it.
    /// One instruction alone in the interpreter with the guest's debug checks around it
    /// (CpuCore::debug_traced): instruction breakpoints, data breakpoints, TF, RF, mov ss.
    void run_traced(unsigned& budget);

    std::uint32_t m_index;
    SoftPlatform& m_platform;
    std::unique_ptr<CpuCore> m_core;
    std::unique_ptr<Interpreter> m_interpreter;
    std::unique_ptr<Translator> m_translator;
    BlockExecutor* m_executor; ///< the translator when enabled, else the interpreter
    SoftDebugger m_debugger{*m_core};
    /// Acts on INIT / start-up IPIs; returns true while the CPU waits for a start-up IPI.
    bool handle_startup();

    /// Notes a halt of `halted` in the idle window and releases memory when the window shows
    /// an idle vCPU.
    void account_halt(std::chrono::steady_clock::duration halted);

    std::chrono::steady_clock::time_point m_window_start{std::chrono::steady_clock::now()};
    std::chrono::steady_clock::duration m_window_halted{};
    bool m_release_armed{true}; ///< the vCPU was busy since the last release
    std::atomic<bool> m_kicked{false};
    bool m_waiting_for_startup; ///< application processors start here (Intel SDM Vol. 3, 9.4)
};

} // namespace vessel::soft
