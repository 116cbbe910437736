// EngineRunner: runs sequences in Vessel's software CPU (64-bit mode, CPL 3, 4 KiB pages mapping
// exactly the code and data pages the native child maps).
#pragma once

#include <memory>

#include "base/result.hpp"
#include "devices/bus.hpp"
#include "engine/soft/code_pages.hpp"
#include "engine/soft/cpu_core.hpp"
#include "engine/soft/interpreter.hpp"
#include "engine/soft/null_soft_platform.hpp"
#include "engine/soft/translator/translator.hpp"
#include "machine_state.hpp"
#include "memory/guest_memory.hpp"
#include "sequence_generator.hpp"

namespace vessel::difftest {

class EngineRunner {
  public:
    /// With `translate`, every block runs through the translation tier from its first
    /// execution (the interpreter only for what the translator leaves to it).
    static Result<std::unique_ptr<EngineRunner>> create(bool translate = false);

    MachineState run(const Sequence& sequence);

  private:
    explicit EngineRunner(GuestMemory memory);
    Result<void> build_page_tables();

    GuestMemory m_memory;
    Bus m_io_bus{"difftest io"};
    Bus m_mmio_bus{"difftest mmio"};
    soft::NullSoftPlatform m_platform; ///< no interrupts: sequences run from state to state
    soft::CodePages m_code_pages;
    std::unique_ptr<soft::CpuCore> m_cpu;
    std::unique_ptr<soft::Interpreter> m_interpreter;
    std::unique_ptr<soft::Translator> m_translator;
    soft::BlockExecutor* m_executor{nullptr};
};

} // namespace vessel::difftest
