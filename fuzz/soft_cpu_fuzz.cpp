// libFuzzer target: the software engine on random code. The input is a register state, a CPU
// mode and 16 KiB of guest RAM (code at 0x10000, descriptor tables and data around it); the CPU
// runs it through the interpreter, or the translator from the first execution, for a bounded
// number of blocks, delivering the faults it raises through the guest's own (random) IDT as the
// vCPU does. Nothing may crash, touch host memory outside guest RAM, or run past the bound.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sanitizer/lsan_interface.h>

#include "base/log.hpp"
#include "devices/bus.hpp"
#include "engine/soft/code_pages.hpp"
#include "engine/soft/cpu_core.hpp"
#include "engine/soft/interpreter.hpp"
#include "engine/soft/null_soft_platform.hpp"
#include "engine/soft/translator/translator.hpp"
#include "memory/guest_memory.hpp"

namespace {

using namespace vessel;

constexpr std::uint64_t ram_size = 1u << 20; // GuestMemory's minimum; above it is unbacked
constexpr std::uint64_t image_address = 0x10000;
constexpr std::size_t image_size = 16 << 10; // the part of RAM the input writes
// Fixed layout below the image: 4-level tables identity-mapping 0-8 MiB with 2 MiB pages
// (Intel SDM Vol. 3, 4.5), so the code can reach RAM, its end, and unbacked addresses above.
constexpr std::uint64_t pml4_address = 0x1000, pdpt_address = 0x2000, directory_address = 0x3000;
constexpr std::uint64_t present = 1u << 0, writable = 1u << 1, user = 1u << 2, large = 1u << 7;
constexpr std::uint64_t gdt_address = image_address + 0x3000; // 256 bytes of the input
constexpr std::uint64_t idt_address = image_address + 0x3100; // 4 KiB (64-bit gates) of it
constexpr std::uint64_t stack_top = 0xf000;
constexpr unsigned batches = 16;          // execute() calls per input
constexpr unsigned blocks_per_batch = 16; // so at most 256 blocks per input

/// Input layout: mode (1 byte), 16 register values (8 bytes each, short inputs give zeros),
/// rflags (8), then up to 16 KiB copied to guest-physical 0x10000 (execution starts there).
///   mode bits 0-1: 0 real mode, 1 32-bit protected (no paging), 2 64-bit ring 0, 3 64-bit ring 3
///   mode bit 2: the translator from the first execution (else the interpreter alone)
struct Header {
    std::uint8_t mode;
    std::array<std::uint64_t, 16> registers;
    std::uint64_t flags;
};
constexpr std::size_t header_size = 1 + 16 * 8 + 8;

struct Engine {
    GuestMemory memory;
    Bus io_bus{"fuzz io"};
    Bus mmio_bus{"fuzz mmio"};
    soft::NullSoftPlatform platform;
    soft::CodePages code_pages{ram_size};
    std::unique_ptr<soft::CpuCore> cpu;
    std::unique_ptr<soft::Interpreter> interpreter;
    std::unique_ptr<soft::Translator> translator;

    explicit Engine(GuestMemory guest_memory) : memory(std::move(guest_memory)) {
        // Sound: `this` does not move (engine() allocates it once), so the references hold.
        cpu = std::make_unique<soft::CpuCore>(memory, io_bus, mmio_bus, &platform, code_pages, 0);
        // CpuCore lives in its own (huge-page) mapping, which LeakSanitizer does not scan: what
        // it points to would look leaked, since this engine is never destroyed.
        __lsan_register_root_region(cpu.get(), sizeof(soft::CpuCore));
        interpreter = std::make_unique<soft::Interpreter>(*cpu);
        // So does the interpreter (prefaulted memory, engine/soft/prefaulted_memory.hpp): its
        // block cache's heap nodes are reachable only from there.
        __lsan_register_root_region(interpreter.get(), sizeof(soft::Interpreter));
        soft::Translator::Options options;
        options.hot_threshold = 1;
        options.cache_size = 4u << 20;
        translator = soft::Translator::create(*cpu, *interpreter, options).value();
    }
};

// Built in place once (the CPU holds references to the memory, buses and platform beside it),
// and kept for the whole run.
Engine& engine() {
    static Engine* instance = [] {
        log::initialize("off");
        return new Engine(GuestMemory::create(ram_size).value());
    }();
    return *instance;
}

void build_page_tables(GuestMemory& memory) {
    (void)memory.fill(0, 0, image_address);
    (void)memory.write<std::uint64_t>(pml4_address, pdpt_address | present | writable | user);
    (void)memory.write<std::uint64_t>(pdpt_address, directory_address | present | writable | user);
    for (std::uint64_t entry = 0; entry < 4; ++entry)
        (void)memory.write<std::uint64_t>(directory_address + 8 * entry,
                                          (entry << 21) | present | writable | user | large);
}

x86::CpuState initial_state(const Header& header) {
    x86::CpuState state; // real mode, as at reset
    for (std::size_t i = 0; i < 16; ++i)
        state.gpr[i] = header.registers[i];
    state.rflags = (header.flags & ~x86::rflags::vm) | x86::rflags::fixed1;
    state.gdt = {gdt_address, 0xff};
    state.idt = {idt_address, 0xfff};
    switch (header.mode & 3) {
    case 0:
        state.cs.selector = static_cast<std::uint16_t>(image_address >> 4);
        state.cs.base = image_address;
        state.rip = 0;
        state.gpr[4] = stack_top; // rsp
        break;
    case 1:
        state.cs = x86::flat_segment(0x08, 0xb, false);
        state.ss = state.ds = state.es = state.fs = state.gs = x86::flat_segment(0x10, 0x3, false);
        state.cr0 = x86::cr0::pe | x86::cr0::et | x86::cr0::ne;
        state.rip = image_address;
        state.gpr[4] = stack_top;
        break;
    default: {
        const bool ring3 = (header.mode & 3) == 3;
        state.cs = x86::flat_segment(ring3 ? 0x33 : 0x08, 0xb, true);
        state.ss = state.ds = state.es = x86::flat_segment(ring3 ? 0x2b : 0x10, 0x3, false);
        state.fs = state.gs = x86::flat_segment(0, 0x3, false);
        if (ring3) state.cs.dpl = state.ss.dpl = state.ds.dpl = state.es.dpl = 3;
        state.cr0 =
            x86::cr0::pe | x86::cr0::mp | x86::cr0::et | x86::cr0::ne | x86::cr0::wp | x86::cr0::pg;
        state.cr3 = pml4_address;
        state.cr4 = x86::cr4::pae | x86::cr4::pge | x86::cr4::osfxsr | x86::cr4::osxmmexcpt;
        state.efer = x86::efer::sce | x86::efer::lme | x86::efer::lma | x86::efer::nxe;
        state.rip = image_address;
        break;
    }
    }
    return state;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    Header header{};
    header.mode = data[0];
    std::memcpy(reinterpret_cast<std::uint8_t*>(&header.registers), data + 1,
                std::min<std::size_t>(size - 1, header_size - 1));
    const std::size_t image = size > header_size ? std::min(size - header_size, image_size) : 0;

    Engine& vm = engine();
    // Fresh RAM for this input: the tables, the image, zeros elsewhere (the last input's code
    // may have written anywhere in RAM).
    (void)vm.memory.fill(0, 0, ram_size);
    build_page_tables(vm.memory);
    if (image != 0) (void)vm.memory.write_bytes(image_address, {data + header_size, image});
    for (std::uint64_t page = 0; page < ram_size >> 12; ++page)
        vm.code_pages.invalidate(page);

    soft::CpuCore& cpu = *vm.cpu;
    cpu.load_state(initial_state(header));
    cpu.halted = false;
    soft::BlockExecutor& executor = (header.mode & 4) != 0
                                        ? static_cast<soft::BlockExecutor&>(*vm.translator)
                                        : static_cast<soft::BlockExecutor&>(*vm.interpreter);
    // The vCPU's loop (SoftVcpu::run_blocks): faults go to the guest's handlers, a triple
    // fault or an engine failure ends the run, as does hlt (nothing would wake it here).
    for (unsigned batch = 0; batch < batches && !cpu.halted; ++batch) {
        try {
            unsigned budget = blocks_per_batch;
            executor.execute(budget);
            cpu.exit_block = false;
        } catch (const soft::GuestFault& fault) {
            cpu.rip = cpu.instruction_rip;
            try {
                cpu.deliver_fault(fault);
            } catch (const soft::ShutdownSignal&) {
                break;
            }
        } catch (const soft::ShutdownSignal&) {
            break;
        } catch (const soft::EngineFailure&) {
            break;
        }
    }
    return 0;
}
