// vessel_vcpu_probe: what building one software-engine vCPU costs, step by step, in a fresh
// process (as a restore builds it): CPU time of the thread (CLOCK_THREAD_CPUTIME_ID) and minor
// page faults (getrusage(RUSAGE_THREAD) ru_minflt) of each step. Both count only this thread's
// work, so a loaded host changes them little (unlike wall time); and how often the thread was
// preempted during the step (ru_nivcsw): where one took much longer than usual, look there.
// Usage: vessel_vcpu_probe [RAM_MIB [whole]] (default 256 MiB); prints one line per step, or
// with `whole` only SoftVm::create_vcpu as one step.
#include <sys/resource.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <string_view>

#include "engine/soft/interpreter.hpp"
#include "engine/soft/soft_vm.hpp"
#include "engine/soft/translator/translator.hpp"
#include "platform/pc/pc_soft_platform.hpp"

using namespace vessel;
using namespace vessel::soft;

namespace {

struct Sample {
    double cpu_us;
    long faults;
    long preemptions; ///< involuntary context switches
};

Sample now() {
    timespec cpu{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    rusage usage{};
    getrusage(RUSAGE_THREAD, &usage);
    return {static_cast<double>(cpu.tv_sec) * 1e6 + static_cast<double>(cpu.tv_nsec) / 1e3,
            usage.ru_minflt, usage.ru_nivcsw};
}

void report(const char* step, Sample before) {
    const Sample after = now();
    std::printf("%-34s cpu %8.1f us  preemptions %2ld  faults %5ld\n", step,
                after.cpu_us - before.cpu_us, after.preemptions - before.preemptions,
                after.faults - before.faults);
}

struct NoExits final : ExitSink {
    void request_exit(ExitRequest) override {}
};

} // namespace

int main(int argc, char** argv) {
    const std::uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
    Sample start = now();
    auto memory = GuestMemory::create(mib << 20).value();
    Bus io_bus{"io"};
    Bus mmio_bus{"mmio"};
    NoExits exits;
    report("guest memory", start);

    start = now();
    auto vm = SoftVm::create(VmContext{memory, io_bus, mmio_bus, exits, 1}, SoftTier::Translator,
                             pc::PcSoftPlatform::factory())
                  .value();
    report("SoftVm (platform, code pages)", start);

    if (argc > 2 && std::string_view(argv[2]) == "whole") {
        start = now();
        auto vcpu = vm->create_vcpu(0).value();
        report("SoftVm::create_vcpu", start);
        return 0;
    }
    // The steps of SoftVm::create_vcpu and SoftVcpu's constructor, one by one.
    CodePages code_pages(memory.size());
    start = now();
    void* raw = CpuCore::operator new(sizeof(CpuCore));
    report("CpuCore: allocate", start);
    start = now();
    CpuCore* core = ::new (raw) CpuCore(memory, io_bus, mmio_bus, &vm->platform(), code_pages, 0);
    report("CpuCore: construct", start);
    start = now();
    core->set_cpu_count(1);
    core->set_cpu_model(default_cpu_model());
    report("CpuCore: CPU count and model", start);
    start = now();
    auto interpreter = std::make_unique<Interpreter>(*core);
    report("Interpreter", start);
    start = now();
    auto cache = CodeCache::create(CodeCache::default_size).value();
    report("translator: code cache", start);
    start = now();
    auto translator = Translator::create(*core, *interpreter).value();
    report("translator: create (incl. cache)", start);
    start = now();
    translator.reset();
    interpreter.reset();
    core->~CpuCore();
    CpuCore::operator delete(raw, sizeof(CpuCore));
    report("destroy the above", start);

    start = now();
    auto vcpu = vm->create_vcpu(0).value();
    report("SoftVm::create_vcpu (second vCPU)", start);
    std::printf("sizeof(CpuCore) %zu, sizeof(Interpreter) %zu, sizeof(JitContext) %zu\n",
                sizeof(CpuCore), sizeof(Interpreter), sizeof(JitContext));
    return 0;
}
