// The seccomp sandbox: each role's allow-list (seccomp_filters.cpp) compiled once to BPF with
// libseccomp, installed by each thread when it takes up its role, and the SIGSYS report.
#include "sandbox/seccomp_sandbox.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <map>
#include <pthread.h>
#include <seccomp.h>
#include <set>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "base/unique_fd.hpp"
#include "sandbox/seccomp_filters.hpp"

namespace vessel::sandbox {
namespace {

constexpr std::size_t syscall_name_table_size = 512; ///< x86-64 numbers are below this
constexpr std::size_t syscall_name_length = 24;

// Built before any thread is filtered, read-only afterwards (also from the SIGSYS handler).
std::array<std::vector<sock_filter>, thread_role_count> compiled_filters;
std::array<std::array<char, syscall_name_length>, syscall_name_table_size> syscall_names{};
std::atomic<SeccompMode> active_mode{SeccompMode::Off};
std::atomic<void (*)()> violation_cleanup{nullptr};

// Which thread this is, for the violation report (trivial types: readable from a handler).
thread_local ThreadRole current_role = ThreadRole::Vmm;
thread_local bool current_role_known = false;
thread_local std::array<char, 16> current_thread_name{};

std::size_t role_index(ThreadRole role) {
    return static_cast<std::size_t>(role);
}

// libseccomp context, freed on every path.
struct FilterContext {
    scmp_filter_ctx context;
    explicit FilterContext(std::uint32_t default_action) : context(seccomp_init(default_action)) {}
    ~FilterContext() {
        if (context) seccomp_release(context);
    }
    FilterContext(const FilterContext&) = delete;
    FilterContext& operator=(const FilterContext&) = delete;
};

Result<std::vector<sock_filter>> compile_role(ThreadRole role, SeccompMode mode) {
    const std::string_view role_name = thread_role_name(role);
    FilterContext filter(mode == SeccompMode::Log ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
    if (!filter.context) return make_error("seccomp {} filter: seccomp_init failed", role_name);
    // no_new_privs is set by install_thread_filter itself, per thread.
    seccomp_attr_set(filter.context, SCMP_FLTATR_CTL_NNP, 0);
    // Merge the rules per call: one without an argument condition allows every value; a
    // call refused with an errno has that one rule.
    struct Allowed {
        bool unconditional{false};
        int error_number{0};
        std::set<std::tuple<unsigned, std::uint64_t, std::uint64_t>>
            conditions; // index, mask, value
    };
    std::map<int, Allowed> calls;
    for (const auto& rule : syscall_rules(role)) {
        const std::string name(rule.name);
        const int number = seccomp_syscall_resolve_name(name.c_str());
        if (number == __NR_SCMP_ERROR)
            return make_error("seccomp {} filter: unknown system call '{}'", role_name, name);
        Allowed& allowed = calls[number];
        if (rule.error_number != 0) {
            allowed.error_number = rule.error_number;
            continue;
        }
        if (rule.argument_values.empty()) allowed.unconditional = true;
        for (std::uint64_t value : rule.argument_values)
            allowed.conditions.insert({rule.argument_index, rule.argument_mask, value});
    }
    for (const auto& [number, allowed] : calls) {
        int error = 0;
        if (allowed.error_number != 0) {
            error =
                seccomp_rule_add(filter.context, SCMP_ACT_ERRNO(allowed.error_number), number, 0);
        } else if (allowed.unconditional) {
            error = seccomp_rule_add(filter.context, SCMP_ACT_ALLOW, number, 0);
        } else {
            for (const auto& [index, mask, value] : allowed.conditions) {
                error = seccomp_rule_add(filter.context, SCMP_ACT_ALLOW, number, 1,
                                         SCMP_CMP(index, SCMP_CMP_MASKED_EQ, mask, value));
                if (error != 0) break;
            }
        }
        if (error != 0)
            return make_error("seccomp {} filter: rule for system call {} refused: {}", role_name,
                              number, std::strerror(-error));
    }
    // libseccomp 2.5 exports BPF only to a file descriptor: a memory file, read back.
    UniqueFd program_file(::memfd_create("vessel-seccomp", MFD_CLOEXEC));
    if (!program_file.valid())
        return make_error("seccomp {} filter: memfd_create: {}", role_name, std::strerror(errno));
    if (int error = seccomp_export_bpf(filter.context, program_file.get()); error != 0)
        return make_error("seccomp {} filter: export: {}", role_name, std::strerror(-error));
    const off_t size = ::lseek(program_file.get(), 0, SEEK_END);
    if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
        return make_error("seccomp {} filter: BPF program of {} bytes", role_name, size);
    std::vector<sock_filter> program(static_cast<std::size_t>(size) / sizeof(sock_filter));
    if (::pread(program_file.get(), program.data(), static_cast<std::size_t>(size), 0) != size)
        return make_error("seccomp {} filter: reading the BPF program back failed", role_name);
    return program;
}

void fill_syscall_names() {
    for (std::size_t number = 0; number < syscall_name_table_size; ++number) {
        char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, static_cast<int>(number));
        if (!name) continue;
        std::strncpy(syscall_names[number].data(), name, syscall_name_length - 1);
        std::free(name);
    }
}

// Async-signal-safe text building for the handler: no allocation, no locale, no stdio.
struct Line {
    std::array<char, 400> text{};
    std::size_t length{0};
    void add(const char* part) {
        for (; *part != '\0' && length < text.size(); ++part)
            text[length++] = *part;
    }
    void add(std::string_view part) {
        for (char c : part)
            if (length < text.size()) text[length++] = c;
    }
    void add_number(long value) {
        char digits[24];
        std::size_t count = 0;
        unsigned long magnitude =
            value < 0 ? 0ul - static_cast<unsigned long>(value) : static_cast<unsigned long>(value);
        do {
            digits[count++] = static_cast<char>('0' + magnitude % 10);
            magnitude /= 10;
        } while (magnitude != 0);
        if (value < 0) add("-");
        while (count > 0 && length < text.size())
            text[length++] = digits[--count];
    }
    void add_hex(unsigned long long value) {
        char digits[16];
        std::size_t count = 0;
        do {
            digits[count++] = "0123456789abcdef"[value & 15];
            value >>= 4;
        } while (value != 0);
        add("0x");
        while (count > 0 && length < text.size())
            text[length++] = digits[--count];
    }
};

extern "C" void report_violation(int, siginfo_t* info, void* context) {
    const int number = info->si_syscall;
    Line line;
    line.add("vessel: seccomp: thread '");
    line.add(current_thread_name[0] != '\0' ? current_thread_name.data() : "vessel");
    line.add("' (");
    line.add(current_role_known ? thread_role_name(current_role) : std::string_view("unknown"));
    line.add(" filter, tid ");
    line.add_number(::syscall(SYS_gettid));
    line.add(") made system call ");
    if (number >= 0 && static_cast<std::size_t>(number) < syscall_name_table_size &&
        syscall_names[static_cast<std::size_t>(number)][0] != '\0') {
        line.add(syscall_names[static_cast<std::size_t>(number)].data());
        line.add(" (");
        line.add_number(number);
        line.add(")");
    } else {
        line.add_number(number);
    }
    if (context != nullptr) { // its first arguments: an ioctl's request, an mmap's flags...
        const auto& registers = static_cast<const ucontext_t*>(context)->uc_mcontext.gregs;
        line.add(" with arguments ");
        const int order[] = {REG_RDI, REG_RSI, REG_RDX, REG_R10};
        for (int i = 0; i < 4; ++i) {
            if (i > 0) line.add(", ");
            line.add_hex(static_cast<unsigned long long>(registers[order[i]]));
        }
    }
    line.add(", which its filter forbids; stopping Vessel (--no-seccomp turns filters off)\n");
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.text.data(), line.length);
    if (auto cleanup = violation_cleanup.load()) cleanup();
    // A raw exit_group, not _exit(): under ASan, _exit() first runs LeakSanitizer, whose own
    // system calls the filter refuses, and the second SIGSYS (blocked in this handler) would
    // kill the process with a signal instead of this status.
    ::syscall(SYS_exit_group, violation_exit_status);
    __builtin_unreachable();
}

// "vessel" or "vessel-<role>": a name the thread got from its creator, not one of its own.
bool inherited_name(std::string_view name) {
    if (name == "vessel") return true;
    for (ThreadRole role : all_thread_roles())
        if (name == fmt::format("vessel-{}", thread_role_name(role)).substr(0, 15)) return true;
    return false;
}

void install_on_thread_start(ThreadRole role) {
    if (auto installed = install_thread_filter(role); !installed) {
        log::error("{}", installed.error().message);
        ::_exit(violation_exit_status);
    }
}

} // namespace

Result<SeccompMode> seccomp_mode_from_environment(SeccompMode fallback) {
    const char* value = std::getenv("VESSEL_SECCOMP");
    if (!value || *value == '\0') return fallback;
    const std::string_view text(value);
    if (text == "enforce" || text == "on") return SeccompMode::Enforce;
    if (text == "log") return SeccompMode::Log;
    if (text == "off") return SeccompMode::Off;
    return make_error("VESSEL_SECCOMP={}: expected enforce, log or off", text);
}

Result<void> compile_filters(SeccompMode mode) {
    for (ThreadRole role : all_thread_roles())
        compiled_filters[role_index(role)] = TRY(compile_role(role, mode));
    fill_syscall_names();
    return {};
}

void install_violation_handler() {
    struct sigaction action {};
    action.sa_sigaction = report_violation;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGSYS, &action, nullptr);
}

void set_violation_cleanup(void (*cleanup)()) {
    violation_cleanup.store(cleanup);
}

Result<void> install_thread_filter(ThreadRole role) {
    const auto& program = compiled_filters[role_index(role)];
    const std::string_view role_name = thread_role_name(role);
    if (program.empty()) return make_error("seccomp: the {} filter was not compiled", role_name);
    // Threads get a name after their role (ps -L, dmesg, reports) unless they were given one
    // of their own; a new thread starts with its creator's name, which is not its role's. The
    // main thread keeps the process's name.
    std::array<char, 16> name{};
    ::prctl(PR_GET_NAME, name.data(), 0, 0, 0);
    if (::syscall(SYS_gettid) != ::getpid() && inherited_name(name.data())) {
        const std::string role_thread_name = fmt::format("vessel-{}", role_name).substr(0, 15);
        ::prctl(PR_SET_NAME, role_thread_name.c_str(), 0, 0, 0);
        ::prctl(PR_GET_NAME, name.data(), 0, 0, 0);
    }
    current_thread_name = name;
    current_role = role;
    current_role_known = true;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return make_error("seccomp {} filter: prctl(PR_SET_NO_NEW_PRIVS): {}", role_name,
                          std::strerror(errno));
    sock_fprog fprog{static_cast<unsigned short>(program.size()),
                     const_cast<sock_filter*>(program.data())}; // the kernel copies it
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0)
        return make_error("seccomp {} filter on thread '{}': {} (--no-seccomp runs without "
                          "filters)",
                          role_name, name.data(), std::strerror(errno));
    return {};
}

Result<void> activate_seccomp(SeccompMode mode) {
    if (mode == SeccompMode::Off) return {};
    TRY(compile_filters(mode));
    // glibc reads /etc/localtime on the first local-time conversion (log time stamps, the
    // RTC): do it now, while files may still be opened.
    ::tzset();
    // glibc's malloc reads /sys/devices/system/cpu/online the first time it has more than 8
    // arenas (8 vCPUs and more), on whichever thread that is: fix its limit now, to the value
    // it would compute (8 arenas per CPU on 64-bit hosts).
    ::mallopt(M_ARENA_MAX, 8 * std::max(::get_nprocs(), 1));
    install_violation_handler();
    set_thread_role_hook(install_on_thread_start);
    active_mode.store(mode);
    return {};
}

SeccompMode active_seccomp_mode() {
    return active_mode.load();
}

} // namespace vessel::sandbox
