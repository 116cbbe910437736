// EngineRunner: guest memory layout, long-mode user state, and the run loop that stops at the
// first exception (the terminating ud2 raises #UD).
#include "engine_runner.hpp"

#include <cstring>

#include "engine/soft/xsave_state.hpp"

namespace vessel::difftest {

namespace {

constexpr std::uint64_t ram_size = 1u << 20;
// Guest-physical layout: four paging levels, then the code page and the data pages.
constexpr std::uint64_t pml4_address = 0x1000, pdpt_address = 0x2000, directory_address = 0x3000,
                        table_address = 0x4000;
constexpr std::uint64_t code_physical = 0x10000, data_physical = 0x20000;
// Page-table entry bits (Intel SDM Vol. 3, 4.5).
constexpr std::uint64_t present = 1u << 0, writable = 1u << 1, user = 1u << 2;
constexpr std::uint64_t no_execute = std::uint64_t{1} << 63;
constexpr std::uint64_t table_entry = present | writable | user;
constexpr std::uint16_t user_code_selector = 0x33, user_data_selector = 0x2b; // as Linux uses
constexpr unsigned max_blocks = 100000;

unsigned level_index(std::uint64_t linear, unsigned level) {
    return static_cast<unsigned>((linear >> (12 + 9 * level)) & 0x1ff);
}

} // namespace

Result<std::unique_ptr<EngineRunner>> EngineRunner::create(bool translate) {
    // RAM in a file, as Machine makes it for the software engine: user code runs through page
    // aliases.
    GuestMemory memory = TRY_CONTEXT(GuestMemory::create_shared(ram_size), "difftest guest memory");
    std::unique_ptr<EngineRunner> runner(new EngineRunner(std::move(memory)));
    TRY(runner->build_page_tables());
    runner->m_executor = runner->m_interpreter.get();
    if (translate) {
        soft::Translator::Options options;
        options.hot_threshold = 1;
        runner->m_translator =
            TRY(soft::Translator::create(*runner->m_cpu, *runner->m_interpreter, options));
        runner->m_executor = runner->m_translator.get();
    }
    return runner;
}

EngineRunner::EngineRunner(GuestMemory memory)
    : m_memory(std::move(memory)), m_code_pages(ram_size),
      m_cpu(std::make_unique<soft::CpuCore>(m_memory, m_io_bus, m_mmio_bus, &m_platform,
                                            m_code_pages, 0)),
      m_interpreter(std::make_unique<soft::Interpreter>(*m_cpu)) {}

Result<void> EngineRunner::build_page_tables() {
    // The code and data pages share one page table (they are within 2 MiB of each other).
    static_assert(layout::code_address >> 21 == layout::data_address >> 21);
    const std::uint64_t linear = layout::code_address;
    TRY(m_memory.write<std::uint64_t>(pml4_address + 8 * level_index(linear, 3),
                                      pdpt_address | table_entry));
    TRY(m_memory.write<std::uint64_t>(pdpt_address + 8 * level_index(linear, 2),
                                      directory_address | table_entry));
    TRY(m_memory.write<std::uint64_t>(directory_address + 8 * level_index(linear, 1),
                                      table_address | table_entry));
    TRY(m_memory.write<std::uint64_t>(table_address + 8 * level_index(linear, 0),
                                      code_physical | present | user));
    for (std::uint64_t offset = 0; offset < layout::data_size; offset += 4096)
        TRY(m_memory.write<std::uint64_t>(
            table_address + 8 * level_index(layout::data_address + offset, 0),
            (data_physical + offset) | present | writable | user | no_execute));
    return {};
}

MachineState EngineRunner::run(const Sequence& sequence) {
    MachineState result;
    std::vector<std::uint8_t> code(layout::code_size, 0xcc);
    std::memcpy(code.data(), sequence.code.data(), sequence.code.size());
    if (!m_memory.write_bytes(code_physical, code) ||
        !m_memory.write_bytes(data_physical, sequence.initial.data)) {
        result.outcome = Outcome::Crashed;
        result.message = "engine: cannot load the sequence into guest memory";
        return result;
    }
    m_code_pages.invalidate(code_physical >> 12); // decoded blocks of the last sequence are stale

    const MachineState& initial = sequence.initial;
    x86::CpuState state;
    for (int i = 0; i < 16; ++i)
        state.gpr[i] = initial.gpr[i];
    state.rip = initial.rip;
    state.rflags = initial.rflags;
    state.cs = x86::flat_segment(user_code_selector, 0xb, true);
    state.cs.dpl = 3;
    state.ss = state.ds = state.es = x86::flat_segment(user_data_selector, 0x3, false);
    state.ss.dpl = state.ds.dpl = state.es.dpl = 3;
    state.fs = state.gs = x86::flat_segment(0, 0x3, false);
    state.cr0 = x86::cr0::pe | x86::cr0::mp | x86::cr0::et | x86::cr0::ne | x86::cr0::wp |
                x86::cr0::am | x86::cr0::pg;
    state.cr3 = pml4_address;
    state.cr4 = x86::cr4::pae | x86::cr4::pge | x86::cr4::osfxsr | x86::cr4::osxmmexcpt;
    state.efer = x86::efer::sce | x86::efer::lme | x86::efer::lma | x86::efer::nxe;
    soft::CpuCore& cpu = *m_cpu;
    cpu.load_state(state);
    for (std::size_t i = 0; i < initial.xmm.size(); ++i)
        std::memcpy(cpu.fpu.xmm[i].q, initial.xmm[i].data(), sizeof cpu.fpu.xmm[i].q);
    cpu.fpu.mxcsr = initial.mxcsr;
    // AVX enabled as Linux enables it: CR4.OSXSAVE and XCR0 = x87 | SSE | YMM.
    if (cpu.has_feature(soft::isa::xsave)) {
        cpu.cr4 |= soft::xsave::cr4_osxsave;
        cpu.xcr0 = soft::xsave::supported_with_avx;
    }
    for (std::size_t i = 0; i < initial.ymm_upper.size(); ++i)
        std::memcpy(cpu.fpu.ymm_upper[i].q, initial.ymm_upper[i].data(),
                    sizeof cpu.fpu.ymm_upper[i].q);

    result.outcome = Outcome::Crashed;
    result.message = "engine: sequence did not end";
    for (unsigned blocks = 0; blocks < max_blocks;) {
        try {
            unsigned budget = 1;
            m_executor->execute(budget);
            blocks += 1 - budget;
        } catch (const soft::GuestFault& fault) {
            cpu.rip = cpu.instruction_rip;
            result.vector = fault.vector;
            result.outcome = fault.vector == x86::vector::invalid_opcode &&
                                     cpu.rip == sequence.terminator_address
                                 ? Outcome::Completed
                                 : Outcome::Faulted;
            result.message.clear();
            break;
        } catch (const soft::EngineFailure& failure) {
            result.message = "engine failure: " + failure.message;
            break;
        } catch (const soft::ShutdownSignal&) {
            result.message = "engine: shutdown";
            break;
        }
    }
    for (int i = 0; i < 16; ++i)
        result.gpr[i] = cpu.gpr[i];
    result.rip = cpu.rip;
    result.rflags = cpu.flags();
    for (std::size_t i = 0; i < result.xmm.size(); ++i)
        std::memcpy(result.xmm[i].data(), cpu.fpu.xmm[i].q, sizeof cpu.fpu.xmm[i].q);
    result.mxcsr = cpu.fpu.mxcsr;
    for (std::size_t i = 0; i < result.ymm_upper.size(); ++i)
        std::memcpy(result.ymm_upper[i].data(), cpu.fpu.ymm_upper[i].q,
                    sizeof cpu.fpu.ymm_upper[i].q);
    if (!m_memory.read_bytes(data_physical, result.data)) result.message += "; data unreadable";
    return result;
}

} // namespace vessel::difftest
