// NativeRunner: the sandboxed child and its protocol (one byte per job over pipes, state in a
// shared mapping). The child runs under seccomp strict mode: only read, write, exit and
// rt_sigreturn; its code page is mapped execute-only-from-a-second-view and its data pages are
// the only writable memory a sequence addresses.
#include "native_runner.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vessel::difftest {

namespace {

constexpr int child_timeout_ms = 5000;
constexpr rlim_t child_cpu_seconds = 600;
constexpr std::uint32_t xsave_magic = 0x46505853;      ///< FP_XSTATE_MAGIC1 (Linux sigcontext.h)
constexpr std::uint64_t xsave_sse_component = 1u << 1; ///< XSTATE_BV bit for the XMM registers
constexpr std::uint64_t xsave_ymm_component = 1u << 2; ///< XSTATE_BV bit for the YMM upper halves
/// The YMM_Hi128 component's offset in the standard-format XSAVE area (CPUID.(0DH,2):EBX), which
/// Linux's signal frames use.
constexpr std::size_t xsave_ymm_offset = 576;
constexpr std::size_t legacy_fxsave_size = 512;
/// struct _fpx_sw_bytes sits in the FXSAVE area's last 48 bytes (Linux sigcontext.h).
constexpr std::size_t software_reserved_offset = 464;
constexpr std::size_t alternate_stack_size = 1 << 16;

/// The order of mcontext general registers for each of Vessel's GPR numbers (rax..r15).
constexpr int greg_of[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                             REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                             REG_R12, REG_R13, REG_R14, REG_R15};

enum Phase : int { idle, starting, running };

// Child-only state, touched by the signal handler.
NativeExchange* child_exchange;
volatile int child_phase = idle;
greg_t child_saved_gregs[NGREG];
std::uint8_t child_saved_fpstate[legacy_fxsave_size];
std::uint8_t child_alternate_stack[alternate_stack_size];

void load_frame(mcontext_t& context, const RegisterFile& registers) {
    for (int i = 0; i < 16; ++i)
        context.gregs[greg_of[i]] = static_cast<greg_t>(registers.gpr[i]);
    context.gregs[REG_RIP] = static_cast<greg_t>(registers.rip);
    context.gregs[REG_EFL] = static_cast<greg_t>(registers.rflags);
    context.fpregs->mxcsr = registers.mxcsr;
    std::memcpy(context.fpregs->_xmm, registers.xmm, sizeof registers.xmm);
    // An XSAVE frame restores XMM only when its header says the component is in use.
    auto* frame = reinterpret_cast<std::uint8_t*>(context.fpregs);
    std::uint32_t magic;
    std::memcpy(&magic, frame + software_reserved_offset, 4);
    if (magic == xsave_magic) {
        std::uint8_t* header = frame + legacy_fxsave_size;
        std::uint64_t features;
        std::memcpy(&features, header, 8);
        features |= xsave_sse_component;
        if (registers.avx) {
            features |= xsave_ymm_component;
            std::memcpy(frame + xsave_ymm_offset, registers.ymm_upper, sizeof registers.ymm_upper);
        }
        std::memcpy(header, &features, 8);
    }
}

void store_frame(const mcontext_t& context, RegisterFile& registers) {
    for (int i = 0; i < 16; ++i)
        registers.gpr[i] = static_cast<std::uint64_t>(context.gregs[greg_of[i]]);
    registers.rip = static_cast<std::uint64_t>(context.gregs[REG_RIP]);
    registers.rflags = static_cast<std::uint64_t>(context.gregs[REG_EFL]);
    registers.mxcsr = context.fpregs->mxcsr;
    std::memcpy(registers.xmm, context.fpregs->_xmm, sizeof registers.xmm);
    // A YMM component absent from XSTATE_BV is in its initial state: zero.
    std::memset(registers.ymm_upper, 0, sizeof registers.ymm_upper);
    const auto* frame = reinterpret_cast<const std::uint8_t*>(context.fpregs);
    std::uint32_t magic;
    std::memcpy(&magic, frame + software_reserved_offset, 4);
    if (magic == xsave_magic && registers.avx) {
        std::uint64_t features;
        std::memcpy(&features, frame + legacy_fxsave_size, 8);
        if (features & xsave_ymm_component)
            std::memcpy(registers.ymm_upper, frame + xsave_ymm_offset, sizeof registers.ymm_upper);
    }
}

/// SIGILL from the harness's own ud2 swaps the test state in; the next fault or the sequence's
/// terminating ud2 records the state and swaps the harness back, past its ud2.
void child_signal(int signal, siginfo_t*, void* raw_context) {
    auto* context = static_cast<ucontext_t*>(raw_context);
    mcontext_t& machine = context->uc_mcontext;
    if (child_phase == starting && signal == SIGILL) {
        std::memcpy(child_saved_gregs, machine.gregs, sizeof child_saved_gregs);
        std::memcpy(child_saved_fpstate, machine.fpregs, legacy_fxsave_size);
        load_frame(machine, child_exchange->start);
        child_phase = running;
        return;
    }
    if (child_phase != running) syscall(SYS_exit, 100 + signal);
    child_exchange->end.avx = child_exchange->start.avx;
    store_frame(machine, child_exchange->end);
    child_exchange->signal = signal;
    child_exchange->trap_number = static_cast<std::int32_t>(machine.gregs[REG_TRAPNO]);
    std::memcpy(machine.gregs, child_saved_gregs, sizeof child_saved_gregs);
    std::memcpy(machine.fpregs, child_saved_fpstate, legacy_fxsave_size);
    machine.gregs[REG_RIP] += 2; // past the harness's ud2
    child_phase = idle;
}

[[noreturn]] void child_exit(int status) {
    syscall(SYS_exit, status); // exit_group is not allowed under seccomp strict mode
    __builtin_unreachable();
}

[[noreturn]] void child_main(NativeExchange* exchange, int job_fd, int done_fd) {
    child_exchange = exchange;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The code page: written through one view, executed through another (no writable+executable
    // mapping, so a sequence cannot modify its own code natively either).
    const int code_fd = memfd_create("difftest-code", 0);
    if (code_fd < 0 || ftruncate(code_fd, layout::code_size) != 0) child_exit(2);
    void* code_view = mmap(reinterpret_cast<void*>(layout::code_address), layout::code_size,
                           PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED_NOREPLACE, code_fd, 0);
    auto* code_writer = static_cast<std::uint8_t*>(
        mmap(nullptr, layout::code_size, PROT_READ | PROT_WRITE, MAP_SHARED, code_fd, 0));
    void* data =
        mmap(reinterpret_cast<void*>(layout::data_address), layout::data_size,
             PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    // The page after the data buffer is never accessible, as in the engine's page tables: the
    // masked moves placed across the buffer's end fault there exactly when an element there is
    // selected.
    const auto guard_address = layout::data_address + layout::data_size;
    void* guard = mmap(reinterpret_cast<void*>(guard_address), 4096, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (code_view != reinterpret_cast<void*>(layout::code_address) || code_writer == MAP_FAILED ||
        data != reinterpret_cast<void*>(layout::data_address) ||
        guard != reinterpret_cast<void*>(guard_address))
        child_exit(3);
    stack_t alternate{};
    alternate.ss_sp = child_alternate_stack;
    alternate.ss_size = sizeof child_alternate_stack;
    if (sigaltstack(&alternate, nullptr) != 0) child_exit(4);
    struct sigaction action {};
    action.sa_sigaction = child_signal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (int signal : {SIGILL, SIGFPE, SIGSEGV, SIGBUS, SIGTRAP})
        if (sigaction(signal, &action, nullptr) != 0) child_exit(5);
    const rlimit cpu{child_cpu_seconds, child_cpu_seconds};
    setrlimit(RLIMIT_CPU, &cpu);
    close(code_fd);
    for (int fd = 0; fd < 1024; ++fd)
        if (fd != job_fd && fd != done_fd) close(fd);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_exit(6);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) child_exit(7);

    for (;;) {
        std::uint8_t byte;
        if (read(job_fd, &byte, 1) != 1) child_exit(0);
        std::memcpy(code_writer, exchange->code, layout::code_size);
        std::memcpy(data, exchange->start_data, layout::data_size);
        child_phase = starting;
        // The handler swaps in the sequence's state; control comes back here afterwards with
        // every register restored.
        asm volatile("ud2" ::: "memory");
        std::memcpy(exchange->end_data, data, layout::data_size);
        if (write(done_fd, &byte, 1) != 1) child_exit(8);
    }
}

} // namespace

Result<NativeRunner> NativeRunner::create() {
    void* shared = mmap(nullptr, sizeof(NativeExchange), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        return make_error("difftest: shared mapping of {} bytes: {}", sizeof(NativeExchange),
                          std::strerror(errno));
    NativeRunner runner(static_cast<NativeExchange*>(shared));
    TRY(runner.start_child());
    return runner;
}

NativeRunner::NativeRunner(NativeRunner&& other) noexcept
    : m_exchange(other.m_exchange), m_child(other.m_child), m_job_fd(other.m_job_fd),
      m_done_fd(other.m_done_fd) {
    other.m_exchange = nullptr;
    other.m_child = -1;
    other.m_job_fd = other.m_done_fd = -1;
}

NativeRunner::~NativeRunner() {
    stop_child();
    if (m_exchange != nullptr) munmap(m_exchange, sizeof(NativeExchange));
}

Result<void> NativeRunner::start_child() {
    int job[2], done[2];
    if (pipe2(job, O_CLOEXEC) != 0 || pipe2(done, O_CLOEXEC) != 0)
        return make_error("difftest: pipe: {}", std::strerror(errno));
    const pid_t child = fork();
    if (child < 0) return make_error("difftest: fork: {}", std::strerror(errno));
    if (child == 0) child_main(m_exchange, job[0], done[1]);
    close(job[0]);
    close(done[1]);
    m_child = child;
    m_job_fd = job[1];
    m_done_fd = done[0];
    return {};
}

void NativeRunner::stop_child() {
    if (m_child < 0) return;
    close(m_job_fd);
    close(m_done_fd);
    kill(m_child, SIGKILL);
    waitpid(m_child, nullptr, 0);
    m_child = -1;
}

MachineState NativeRunner::run(const Sequence& sequence) {
    MachineState result;
    NativeExchange& exchange = *m_exchange;
    std::memset(exchange.code, 0xcc, sizeof exchange.code);
    std::memcpy(exchange.code, sequence.code.data(), sequence.code.size());
    const MachineState& initial = sequence.initial;
    std::memcpy(exchange.start.gpr, initial.gpr.data(), sizeof exchange.start.gpr);
    exchange.start.rip = initial.rip;
    exchange.start.rflags = initial.rflags;
    std::memcpy(exchange.start.xmm, initial.xmm.data(), sizeof exchange.start.xmm);
    exchange.start.mxcsr = initial.mxcsr;
    std::memcpy(exchange.start.ymm_upper, initial.ymm_upper.data(),
                sizeof exchange.start.ymm_upper);
    __builtin_cpu_init();
    exchange.start.avx = __builtin_cpu_supports("avx");
    std::memcpy(exchange.start_data, initial.data.data(), layout::data_size);
    exchange.signal = 0;

    const std::uint8_t byte = 1;
    std::uint8_t answer = 0;
    pollfd waiting{m_done_fd, POLLIN, 0};
    if (write(m_job_fd, &byte, 1) != 1 || poll(&waiting, 1, child_timeout_ms) != 1 ||
        read(m_done_fd, &answer, 1) != 1) {
        int status = 0;
        kill(m_child, SIGKILL);
        waitpid(m_child, &status, 0);
        result.outcome = Outcome::Crashed;
        result.message = WIFSIGNALED(status)
                             ? fmt::format("native child killed by signal {}", WTERMSIG(status))
                             : fmt::format("native child exited with status {} or timed out",
                                           WEXITSTATUS(status));
        close(m_job_fd);
        close(m_done_fd);
        m_child = -1;
        if (auto started = start_child(); !started)
            result.message += "; " + started.error().message;
        return result;
    }
    const RegisterFile& end = exchange.end;
    std::memcpy(result.gpr.data(), end.gpr, sizeof end.gpr);
    result.rip = end.rip;
    result.rflags = end.rflags;
    std::memcpy(result.xmm.data(), end.xmm, sizeof end.xmm);
    result.mxcsr = end.mxcsr;
    std::memcpy(result.ymm_upper.data(), end.ymm_upper, sizeof end.ymm_upper);
    std::memcpy(result.data.data(), exchange.end_data, layout::data_size);
    result.vector = static_cast<std::uint8_t>(exchange.trap_number);
    result.outcome = exchange.signal == SIGILL && end.rip == sequence.terminator_address
                         ? Outcome::Completed
                         : Outcome::Faulted;
    return result;
}

} // namespace vessel::difftest
