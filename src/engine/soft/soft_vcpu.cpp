// SoftVcpu: the run loop (blocks, timers, interrupts, hlt, kicks) around the interpreter.
#include "engine/soft/soft_vcpu.hpp"

#include <malloc.h>

#include <utility>

#include <fmt/format.h>

#include "base/log.hpp"
#include "engine/soft/soft_platform.hpp"

namespace vessel::soft {

namespace {

/// Sleeps a CPU in wait-for-SIPI until an INIT or SIPI comes for it, or a kick (wake()). Only
/// those end the state: "the wait-for-SIPI state blocks external interrupts, non-maskable
/// interrupts (NMIs), INIT signals, and system-management interrupts" (Intel SDM Vol. 3C,
/// 26.6.2 "Activity State"; 24.4.2: "inactive because it is waiting for a startup-IPI"). A
/// blocked event is held, not discarded: a maskable interrupt stays pending in the local APIC,
/// and so does an NMI, which the CPU takes once a SIPI has started it (before its first
/// instruction, as the run loop looks at NMIs right after start-up requests). The platform's
/// wait does not end on that pending NMI, so this CPU does not spin. Platforms that cannot wait
/// for start-up IPIs (unit tests of one vCPU) get the interrupt wait, which returns early on
/// pending work.
void wait_for_sipi(SoftPlatform& platform, std::uint32_t cpu) {
    if (!platform.wait_for_sipi(cpu)) platform.wait_for_interrupt(cpu);
}

} // namespace

SoftVcpu::SoftVcpu(GuestMemory& memory, Bus& io_bus, Bus& mmio_bus, SoftPlatform& platform,
                   CodePages& code_pages, std::uint32_t index, std::uint32_t cpu_count)
    : m_index(index), m_platform(platform),
      m_core(std::make_unique<CpuCore>(memory, io_bus, mmio_bus, &platform, code_pages, index)),
      m_interpreter(std::make_unique<Interpreter>(*m_core)), m_executor(m_interpreter.get()) {
    m_core->set_cpu_count(cpu_count);
    m_waiting_for_startup = index != 0;
}

Result<void> SoftVcpu::set_state(const x86::CpuState& state) {
    m_core->load_state(state);
    m_waiting_for_startup = false; // an explicit state starts the CPU
    return {};
}

Result<void> SoftVcpu::reset_after_sleep(const std::optional<x86::CpuState>& start) {
    m_platform.reset_cpu(m_index);
    m_core->power_on_reset();
    m_core->load_state(start.value_or(x86::CpuState{}));
    m_waiting_for_startup = !start.has_value();
    return {};
}

Result<x86::CpuState> SoftVcpu::state() {
    return m_core->save_state();
}

SoftVcpu::~SoftVcpu() {
    if (m_translator) log::debug("vCPU {}: {}", m_index, m_translator->describe());
}

Result<void> SoftVcpu::enable_translator(Translator::Options options) {
    m_translator = TRY(Translator::create(*m_core, *m_interpreter, options));
    m_executor = m_translator.get();
    return {};
}

void SoftVcpu::kick() {
    m_kicked.store(true, std::memory_order_release);
    // Translated code checks this word at chained block transitions.
    std::atomic_ref<std::uint32_t>(m_core->jit.budget).store(0, std::memory_order_relaxed);
    m_platform.wake(m_index);
}

void SoftVcpu::clear_kick() {
    m_kicked.store(false, std::memory_order_release);
}

void SoftVcpu::check_interrupts() {
    CpuCore& cpu = *m_core;
    if (cpu.interrupt_shadow) {
        cpu.interrupt_shadow = false;  // covers exactly the instruction after sti / mov ss
        cpu.single_instruction = true; // and interrupts are looked at right after it
        return;
    }
    if (!(cpu.rflags & x86::rflags::if_)) return;
    if (!m_platform.has_interrupt(m_index)) return;
    const std::uint8_t vector_number = m_platform.acknowledge_interrupt(m_index);
    cpu.halted = false;
    cpu.instruction_rip = cpu.rip;
    try {
        cpu.deliver(vector_number, false, 0, false);
    } catch (const GuestFault& fault) {
        cpu.deliver_fault(fault);
    }
}

bool SoftVcpu::handle_startup() {
    while (auto request = m_platform.take_startup_request(m_index)) {
        if (request->kind == StartupRequest::Kind::Init) {
            m_core->init_reset();
            m_waiting_for_startup = true;
        } else if (m_waiting_for_startup) {
            // Real mode at vector:0000 (Intel SDM Vol. 3, 9.4.4.1).
            x86::CpuState state;
            state.cs.selector = static_cast<std::uint16_t>(request->vector << 8);
            state.cs.base = std::uint64_t{request->vector} << 12;
            state.rip = 0;
            m_core->load_state(state);
            m_waiting_for_startup = false;
        }
    }
    return m_waiting_for_startup;
}

std::string SoftVcpu::describe_failure(const std::string& message) {
    CpuCore& cpu = *m_core;
    std::string bytes;
    for (unsigned i = 0; i < 15; ++i) {
        try {
            bytes += fmt::format("{}{:02x}", i ? " " : "",
                                 cpu.read_system<1>(cpu.linear(cs, cpu.instruction_rip + i)));
        } catch (const GuestFault&) {
            break;
        }
    }
    return fmt::format("soft cpu {}: {} at rip {:#x} (cs base {:#x}), bytes [{}]", m_index, message,
                       cpu.instruction_rip, cpu.segments[cs].base, bytes);
}

void SoftVcpu::run_blocks(unsigned& budget) {
    CpuCore& cpu = *m_core;
    // Interrupts, kicks and timers are looked at between batches: a batch ends after `budget`
    // blocks, or early when an instruction asked for it (IF, CR or mode changes, hlt, I/O).
    try {
        do {
            m_executor->execute(budget);
            if (cpu.exit_block) return;
        } while (budget != 0);
    } catch (const GuestFault& fault) {
        cpu.rip = cpu.instruction_rip;
        cpu.deliver_fault(fault);
    }
}

Result<void> SoftVcpu::set_guest_debug(const GuestDebug& debug) {
    m_debugger.configure(debug);
    return {};
}

Result<VectorRegisters> SoftVcpu::vector_registers() {
    const CpuCore& cpu = *m_core;
    VectorRegisters registers;
    for (unsigned i = 0; i < 16; ++i) {
        registers.xmm[i] = {cpu.fpu.xmm[i].q[0], cpu.fpu.xmm[i].q[1]};
        registers.ymm_upper[i] = {cpu.fpu.ymm_upper[i].q[0], cpu.fpu.ymm_upper[i].q[1]};
    }
    registers.mxcsr = cpu.fpu.mxcsr;
    registers.xcr0 = cpu.xcr0;
    return registers;
}

Result<void> SoftVcpu::set_vector_registers(const VectorRegisters& registers) {
    constexpr std::uint32_t mxcsr_writable = 0xffff; // Intel SDM Vol. 1, 10.2.3
    CpuCore& cpu = *m_core;
    if (registers.mxcsr & ~mxcsr_writable)
        return make_error("MXCSR value {:#x} sets reserved bits (only bits 0-15 exist)",
                          registers.mxcsr);
    if (registers.xcr0 != cpu.xcr0)
        return make_error("XCR0 cannot be changed by a debugger ({:#x} asked, {:#x} set by the "
                          "guest's xsetbv)",
                          registers.xcr0, cpu.xcr0);
    for (unsigned i = 0; i < 16; ++i) {
        cpu.fpu.xmm[i].q[0] = registers.xmm[i][0];
        cpu.fpu.xmm[i].q[1] = registers.xmm[i][1];
        cpu.fpu.ymm_upper[i].q[0] = registers.ymm_upper[i][0];
        cpu.fpu.ymm_upper[i].q[1] = registers.ymm_upper[i][1];
    }
    cpu.fpu.mxcsr = registers.mxcsr;
    return {};
}

std::optional<DebugEvent> SoftVcpu::run_debugged_instruction(unsigned& budget) {
    CpuCore& cpu = *m_core;
    if (auto event = m_debugger.before_instruction()) return event;
    if (budget != 0) --budget;
    try {
        // The interpreter alone, one instruction: the translation tier would run whole blocks
        // past breakpoints and watched stores.
        cpu.single_instruction = true;
        m_interpreter->execute_block();
    } catch (const GuestFault& fault) {
        cpu.rip = cpu.instruction_rip;
        cpu.deliver_fault(fault);
    }
    return m_debugger.after_instruction();
}

void SoftVcpu::account_halt(std::chrono::steady_clock::duration halted) {
    m_window_halted += halted;
    const auto now = std::chrono::steady_clock::now();
    const auto window = now - m_window_start;
    if (window < idle_window) return;
    const bool idle = m_window_halted * 100 >= window * 97;
    // Once per idle spell, and only above what an idle guest keeps running: Debian's kernel
    // idling at a shell runs 2000-3700 distinct blocks every 4 s (timers, RCU, workqueues),
    // which would be decoded and translated again after every release.
    if (idle && m_release_armed && m_interpreter->cache().size() > idle_release_blocks) {
        release_idle_memory();
        m_release_armed = false;
    }
    if (m_window_halted * 100 < window * 90) m_release_armed = true; // busy again
    m_window_start = now;
    m_window_halted = {};
}

void SoftVcpu::release_idle_memory() {
    const std::size_t blocks = m_interpreter->cache().size();
    if (blocks == 0) return; // nothing ran since the last release
    const std::size_t code = m_translator != nullptr ? m_translator->code_bytes() : 0;
    if (m_translator != nullptr) m_translator->release_memory(); // first: it points into blocks
    m_interpreter->release_memory();
    malloc_trim(0);
    log::debug("vCPU {}: idle: released {} decoded blocks and {} KiB of translated code", m_index,
               blocks, code >> 10);
}

void SoftVcpu::run_traced(unsigned& budget) {
    // The guest's debug architecture (Intel SDM Vol. 3, 17.2-17.3), one instruction at a time in
    // the interpreter (the translation tier would run whole blocks past breakpoints):
    // - an enabled instruction breakpoint at cs:rip is a fault-class #DB before the instruction,
    //   unless RFLAGS.RF is set (a handler returning to the instruction sets RF in its frame;
    //   RF is cleared once an instruction completes);
    // - data breakpoints hit by the instruction's loads and stores, and the single-step trap of
    //   an instruction that began with TF set, are one trap-class #DB after it (DR6 B0-B3, BS),
    //   with the next instruction's address; popf, iret and sysret that set TF end their block,
    //   so the step trap comes after the instruction that follows them;
    // - an instruction that delivered an event (a fault, int n) takes no trap: delivery clears
    //   TF and the handler runs first;
    // - the traps of a mov ss / pop ss wait until the next instruction has run (6.8.3).
    CpuCore& cpu = *m_core;
    constexpr std::uint64_t dr6_single_step = 1u << 14; // DR6.BS
    if (budget != 0) --budget;
    const bool after_ss_load = cpu.pending_debug_traps != 0;
    if (!(cpu.rflags & x86::rflags::rf) && !after_ss_load) {
        if (const std::uint64_t hits = cpu.instruction_breakpoint_hits(cpu.linear(cs, cpu.rip))) {
            cpu.dr[6] |= hits;
            cpu.instruction_rip = cpu.rip;
            cpu.deliver_fault(GuestFault{x86::vector::debug, 0, false});
            return;
        }
    }
    const bool single_step = (cpu.rflags & x86::rflags::tf) != 0;
    const std::uint64_t deliveries = cpu.deliveries;
    cpu.rflags &= ~x86::rflags::rf; // a faulting instruction's frame gets it back
    cpu.data_breakpoint_hits = 0;
    cpu.ss_shadow = false;
    try {
        cpu.single_instruction = true;
        m_interpreter->execute_block();
    } catch (const GuestFault& fault) {
        cpu.pending_debug_traps = 0;
        cpu.rip = cpu.instruction_rip;
        cpu.deliver_fault(fault);
        return;
    }
    if (cpu.deliveries != deliveries || cpu.halted) {
        cpu.pending_debug_traps = 0;
        return;
    }
    std::uint64_t traps = cpu.data_breakpoint_hits;
    if (single_step) traps |= dr6_single_step;
    if (cpu.ss_shadow) {
        cpu.pending_debug_traps |= traps;
        return;
    }
    traps |= std::exchange(cpu.pending_debug_traps, 0);
    if (traps == 0) return;
    cpu.dr[6] |= traps;
    cpu.instruction_rip = cpu.rip;
    try {
        cpu.deliver(x86::vector::debug, false, 0, false);
    } catch (const GuestFault& fault) {
        cpu.deliver_fault(fault);
    }
}

VcpuExit SoftVcpu::run() {
    CpuCore& cpu = *m_core;
    unsigned until_poll = 0;
    for (;;) {
        if (m_kicked.load(std::memory_order_acquire)) return {VcpuExit::Kind::Kicked, cpu.rip, {}};
        cpu.follow_dirty_log();
        try {
            if (until_poll == 0) {
                until_poll = blocks_per_poll;
                m_platform.poll(m_index);
                if (handle_startup()) {
                    wait_for_sipi(m_platform, m_index);
                    until_poll = 0;
                    continue;
                }
                if (!cpu.nmi_blocked && m_platform.take_nmi(m_index)) {
                    cpu.halted = false;
                    cpu.instruction_rip = cpu.rip;
                    try {
                        cpu.nmi_blocked = true;
                        cpu.deliver(2, false, 0, false); // NMI, vector 2
                    } catch (const GuestFault& fault) {
                        cpu.deliver_fault(fault);
                    }
                }
            }
            if ((cpu.rflags & x86::rflags::if_ || cpu.interrupt_shadow) &&
                !m_debugger.holds_interrupts())
                check_interrupts();
            if (cpu.halted) {
                if (!(cpu.rflags & x86::rflags::if_)) {
                    // Only an NMI, INIT or SIPI ends this halt. An application processor waits
                    // for them: Linux parks offlined CPUs so (also for S3) and brings them
                    // back with INIT-SIPI-SIPI. The BSP ends the VM: nothing will send it one.
                    if (m_index == 0 || !m_platform.wait_for_startup(m_index))
                        return {VcpuExit::Kind::Halted, cpu.rip, {}};
                    until_poll = 0; // take the NMI or start-up request next
                    continue;
                }
                const auto halted_at = std::chrono::steady_clock::now();
                m_platform.wait_for_interrupt(m_index);
                account_halt(std::chrono::steady_clock::now() - halted_at);
                m_platform.poll(m_index);
                until_poll = 0; // look at start-up IPIs and NMIs next
                continue;
            }
            if (m_debugger.active()) [[unlikely]] {
                if (auto event = run_debugged_instruction(until_poll))
                    return {VcpuExit::Kind::Debug, cpu.rip, {}, *event};
                continue;
            }
            if (cpu.debug_traced()) [[unlikely]] {
                run_traced(until_poll);
                continue;
            }
            run_blocks(until_poll);
        } catch (const ShutdownSignal&) {
            return {VcpuExit::Kind::Shutdown, cpu.rip, "triple fault"};
        } catch (const EngineFailure& failure) {
            return {VcpuExit::Kind::Error, cpu.instruction_rip, describe_failure(failure.message)};
        }
    }
}

} // namespace vessel::soft
