// Seccomp sandbox tests: each thread role's filter refuses what its role must not do (the child
// process reports the call and exits 159), allows what it needs, and the lists stay consistent.
#include "sandbox/seccomp_sandbox.hpp"

#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <map>
#include <set>
#include <string>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <tuple>
#include <unistd.h>

#include "base/kvm_uapi.hpp"
#include "sandbox/seccomp_filters.hpp"

namespace vessel::sandbox {
namespace {

class SeccompSandboxTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // Compiling has no effect on any thread; each death test's child installs a filter.
        auto compiled = compile_filters(SeccompMode::Enforce);
        ASSERT_TRUE(compiled) << compiled.error().message;
    }
};

// Ends the child with a raw exit_group: _exit() under ASan runs LeakSanitizer first, whose
// system calls the filter would refuse.
[[noreturn]] void exit_now(int status) {
    ::syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

// In a child process: filter the thread as role, make an allowed call, then the forbidden one.
template <typename Call> [[noreturn]] void run_filtered(ThreadRole role, Call forbidden_call) {
    install_violation_handler();
    if (!install_thread_filter(role)) exit_now(1);
    if (::getpid() <= 0) exit_now(2); // allowed everywhere: the thread is not just dead
    forbidden_call();
    exit_now(0); // the call was let through
}

std::string report_for(ThreadRole role, const std::string& syscall) {
    return "\\(" + std::string(thread_role_name(role)) +
           " filter, tid [0-9]+\\) made system call " + syscall +
           " \\([0-9]+\\) with arguments 0x[0-9a-f]+, 0x[0-9a-f]+, 0x[0-9a-f]+, 0x[0-9a-f]+, "
           "which its filter forbids";
}

TEST_F(SeccompSandboxTest, EveryRoleRefusesExecve) {
    for (ThreadRole role : all_thread_roles()) {
        SCOPED_TRACE(std::string(thread_role_name(role)));
        EXPECT_EXIT(run_filtered(role,
                                 [] {
                                     char* const arguments[] = {nullptr};
                                     ::syscall(SYS_execve, "/bin/true", arguments, arguments);
                                 }),
                    ::testing::ExitedWithCode(violation_exit_status), report_for(role, "execve"));
    }
}

TEST_F(SeccompSandboxTest, ThreadsWithoutFileWorkCannotOpenFiles) {
    for (ThreadRole role :
         {ThreadRole::Vcpu, ThreadRole::Io, ThreadRole::Net, ThreadRole::Block, ThreadRole::Vsock,
          ThreadRole::Balloon, ThreadRole::Terminal, ThreadRole::Gdb}) {
        SCOPED_TRACE(std::string(thread_role_name(role)));
        EXPECT_EXIT(
            run_filtered(role, [] { ::syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY); }),
            ::testing::ExitedWithCode(violation_exit_status), report_for(role, "openat"));
    }
}

TEST_F(SeccompSandboxTest, VcpuCannotMakeSocketsOrNonKvmIoctls) {
    EXPECT_EXIT(
        run_filtered(ThreadRole::Vcpu, [] { ::syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); }),
        ::testing::ExitedWithCode(violation_exit_status), report_for(ThreadRole::Vcpu, "socket"));
    // Neither the control plane's KVM ioctls (a new VM) nor any other device's (a TAP's).
    EXPECT_EXIT(run_filtered(ThreadRole::Vcpu, [] { ::ioctl(-1, KVM_CREATE_VM, 0); }),
                ::testing::ExitedWithCode(violation_exit_status),
                report_for(ThreadRole::Vcpu, "ioctl"));
    EXPECT_EXIT(run_filtered(ThreadRole::Vcpu, [] { ::ioctl(-1, TUNSETIFF, nullptr); }),
                ::testing::ExitedWithCode(violation_exit_status),
                report_for(ThreadRole::Vcpu, "ioctl"));
}

TEST_F(SeccompSandboxTest, SocketFamiliesAreRestrictedPerRole) {
    // libslirp's thread makes inet sockets only, the vsock host side Unix ones only, and the
    // VMM never a netlink or packet socket.
    EXPECT_EXIT(
        run_filtered(ThreadRole::Net, [] { ::syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0); }),
        ::testing::ExitedWithCode(violation_exit_status), report_for(ThreadRole::Net, "socket"));
    EXPECT_EXIT(
        run_filtered(ThreadRole::Vsock, [] { ::syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); }),
        ::testing::ExitedWithCode(violation_exit_status), report_for(ThreadRole::Vsock, "socket"));
    for (ThreadRole role : {ThreadRole::Vmm, ThreadRole::Api}) {
        SCOPED_TRACE(std::string(thread_role_name(role)));
        EXPECT_EXIT(run_filtered(role, [] { ::syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0); }),
                    ::testing::ExitedWithCode(violation_exit_status), report_for(role, "socket"));
        EXPECT_EXIT(run_filtered(role, [] { ::syscall(SYS_ptrace, 0, 0, 0, 0); }),
                    ::testing::ExitedWithCode(violation_exit_status), report_for(role, "ptrace"));
    }
}

TEST_F(SeccompSandboxTest, AllowedCallsGoThrough) {
    // The call each role exists for works under its filter (the child exits 0).
    EXPECT_EXIT(run_filtered(ThreadRole::Net,
                             [] {
                                 const long fd = ::syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
                                 if (fd < 0) exit_now(3);
                             }),
                ::testing::ExitedWithCode(0), "");
    EXPECT_EXIT(run_filtered(ThreadRole::Vsock,
                             [] {
                                 const long fd = ::syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
                                 if (fd < 0) exit_now(3);
                             }),
                ::testing::ExitedWithCode(0), "");
    EXPECT_EXIT(run_filtered(ThreadRole::Vmm,
                             [] {
                                 const long fd =
                                     ::syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
                                 if (fd < 0) exit_now(3);
                             }),
                ::testing::ExitedWithCode(0), "");
}

TEST_F(SeccompSandboxTest, ChildRolesAskNoMoreThanTheirCreators) {
    // Filters stack: a thread started by another keeps its creator's filter, so a call missing
    // there would be refused whatever the child's own list says.
    for (ThreadRole role : all_thread_roles()) {
        const auto names = allowed_syscall_names(role);
        for (ThreadRole creator : creator_roles(role)) {
            const auto creator_names = allowed_syscall_names(creator);
            for (auto name : names)
                EXPECT_TRUE(std::ranges::binary_search(creator_names, name))
                    << thread_role_name(role) << " allows " << name << ", its creator "
                    << thread_role_name(creator) << " does not";
        }
    }
}

TEST_F(SeccompSandboxTest, AKvmVcpuWiresTheDoorbellsAndRoutesItsGuestProgrammed) {
    // A virtio BAR the guest maps gets ioeventfd doorbells, an MSI-X vector it programs an
    // irqfd route: on the vCPU thread that handles the write (here on bad descriptors: only the
    // filter's answer matters). The requests are the kernel's numbers (base/kvm_uapi.hpp): under
    // g++, <linux/kvm.h> alone encodes the flexible-array structs 8 bytes too large, and the
    // filters let through numbers no one calls while refusing KVM_SET_GSI_ROUTING.
    for (ThreadRole role : {ThreadRole::Vcpu, ThreadRole::Vmm}) {
        SCOPED_TRACE(std::string(thread_role_name(role)));
        EXPECT_EXIT(run_filtered(role,
                                 [] {
                                     const int event = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                                     if (event < 0) exit_now(3);
                                     ::epoll_ctl(-1, EPOLL_CTL_ADD, event, nullptr);
                                     ::ioctl(-1, KVM_IOEVENTFD, nullptr);
                                     ::ioctl(-1, KVM_SET_GSI_ROUTING, nullptr);
                                     ::ioctl(-1, KVM_IRQFD, nullptr);
                                     ::ioctl(-1, KVM_SET_MSRS, nullptr);
                                     ::ioctl(-1, KVM_SET_CPUID2, nullptr);
                                 }),
                    ::testing::ExitedWithCode(0), "");
    }
}

TEST_F(SeccompSandboxTest, TheApiThreadReadsLimitsButSetsNone) {
    // Guest RAM in a memfd is checked against RLIMIT_FSIZE first (getrlimit is prlimit64 with
    // no new limit); changing a limit stays refused.
    EXPECT_EXIT(run_filtered(ThreadRole::Api,
                             [] {
                                 rlimit limit{};
                                 if (::getrlimit(RLIMIT_FSIZE, &limit) != 0) exit_now(3);
                             }),
                ::testing::ExitedWithCode(0), "");
    EXPECT_EXIT(run_filtered(ThreadRole::Api,
                             [] {
                                 rlimit limit{RLIM_INFINITY, RLIM_INFINITY};
                                 ::setrlimit(RLIMIT_FSIZE, &limit);
                             }),
                ::testing::ExitedWithCode(violation_exit_status),
                report_for(ThreadRole::Api, "prlimit64"));
}

TEST_F(SeccompSandboxTest, OnlyCodeEmittingRolesMakeMemoryExecutable) {
    // The software vCPU's translator (and the roles that start vCPUs) may map code; no
    // back-end thread may, neither a new mapping nor a change of an existing one.
    for (ThreadRole role : {ThreadRole::Io, ThreadRole::Net, ThreadRole::Block, ThreadRole::Vsock,
                            ThreadRole::Balloon, ThreadRole::Terminal, ThreadRole::Gdb}) {
        SCOPED_TRACE(std::string(thread_role_name(role)));
        EXPECT_EXIT(run_filtered(role,
                                 [] {
                                     ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC,
                                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                                 }),
                    ::testing::ExitedWithCode(violation_exit_status), report_for(role, "mmap"));
        EXPECT_EXIT(run_filtered(role,
                                 [] {
                                     void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                                     if (page == MAP_FAILED) exit_now(3); // allowed: no PROT_EXEC
                                     ::mprotect(page, 4096, PROT_READ | PROT_EXEC);
                                 }),
                    ::testing::ExitedWithCode(violation_exit_status), report_for(role, "mprotect"));
    }
    EXPECT_EXIT(run_filtered(ThreadRole::Vcpu,
                             [] {
                                 void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                                 if (page == MAP_FAILED ||
                                     ::mprotect(page, 4096, PROT_READ | PROT_EXEC) != 0)
                                     exit_now(3);
                             }),
                ::testing::ExitedWithCode(0), "");
}

// run_filtered after a first thread came and went: glibc installs its SIGSETXID handler
// (rt_sigaction) on a process's first pthread_create, which Vessel makes before any filter.
template <typename Call> [[noreturn]] void run_filtered_threaded(ThreadRole role, Call call) {
    std::thread([] {}).join();
    run_filtered(role, call);
}

TEST_F(SeccompSandboxTest, ThreadsButNoProcesses) {
    // The VMM starts threads (clone3 answers ENOSYS, glibc falls back to clone with the thread
    // flags the filter checks); a clone that would make a process is refused, as is any clone
    // on a vCPU.
    EXPECT_EXIT(run_filtered_threaded(ThreadRole::Vmm,
                                      [] {
                                          std::thread thread([] {});
                                          thread.join();
                                      }),
                ::testing::ExitedWithCode(0), "");
    EXPECT_EXIT(
        run_filtered_threaded(ThreadRole::Vmm, [] { ::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }),
        ::testing::ExitedWithCode(violation_exit_status), report_for(ThreadRole::Vmm, "clone"));
    // pthread_create blocks every signal around clone, so the kernel cannot deliver SIGSYS to
    // the report handler and ends the process with it (a shell shows the same status, 159);
    // under ASan its pthread_create interceptor is refused first, with the report.
    EXPECT_EXIT(
        run_filtered_threaded(ThreadRole::Vcpu, [] { std::thread([] {}).join(); }),
        [](int status) {
            return (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) ||
                   (WIFEXITED(status) && WEXITSTATUS(status) == violation_exit_status);
        },
        "");
}

TEST_F(SeccompSandboxTest, VmmReadsHostStateButWritesNoFiles) {
    EXPECT_EXIT(run_filtered(ThreadRole::Vmm,
                             [] {
                                 if (::syscall(SYS_openat, AT_FDCWD, "/proc/meminfo", O_RDONLY) < 0)
                                     exit_now(3);
                             }),
                ::testing::ExitedWithCode(0), "");
    EXPECT_EXIT(run_filtered(ThreadRole::Vmm,
                             [] {
                                 ::syscall(SYS_openat, AT_FDCWD, "/tmp/vessel-seccomp-test",
                                           O_WRONLY | O_CREAT, 0600);
                             }),
                ::testing::ExitedWithCode(violation_exit_status),
                report_for(ThreadRole::Vmm, "openat"));
    EXPECT_EXIT(
        run_filtered(ThreadRole::Vmm, [] { ::syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0); }),
        ::testing::ExitedWithCode(violation_exit_status), report_for(ThreadRole::Vmm, "socket"));
}

TEST_F(SeccompSandboxTest, ThreadsStatTheirDescriptorsNotPaths) {
    // glibc's fstat(fd) is newfstatat(fd, "", AT_EMPTY_PATH): allowed everywhere; a path is not.
    EXPECT_EXIT(run_filtered(ThreadRole::Vcpu,
                             [] {
                                 struct stat status {};
                                 if (::fstat(STDERR_FILENO, &status) != 0) exit_now(3);
                                 ::stat("/etc/passwd", &status);
                             }),
                ::testing::ExitedWithCode(violation_exit_status),
                report_for(ThreadRole::Vcpu, "newfstatat"));
}

TEST_F(SeccompSandboxTest, ChildArgumentRulesAreWithinTheirCreators) {
    // The same as ChildRolesAskNoMoreThanTheirCreators for argument values: a child's allowed
    // (argument, mask, value) must be allowed by its creator too, or the stacked filter
    // refuses it. Unconditional rules cover everything.
    using Key = std::tuple<unsigned, std::uint64_t, std::uint64_t>;
    struct Allowed {
        bool unconditional{false};
        std::set<Key> values;
    };
    const auto allowed = [](ThreadRole role) {
        std::map<std::string_view, Allowed> calls;
        for (const auto& rule : syscall_rules(role)) {
            if (rule.error_number != 0) continue;
            Allowed& call = calls[rule.name];
            if (rule.argument_values.empty()) call.unconditional = true;
            for (auto value : rule.argument_values)
                call.values.insert({rule.argument_index, rule.argument_mask, value});
        }
        return calls;
    };
    for (ThreadRole role : all_thread_roles())
        for (ThreadRole creator : creator_roles(role)) {
            const auto child_calls = allowed(role);
            const auto creator_calls = allowed(creator);
            for (const auto& [name, call] : child_calls) {
                const auto found = creator_calls.find(name);
                ASSERT_NE(found, creator_calls.end()) << name;
                if (found->second.unconditional) continue;
                EXPECT_FALSE(call.unconditional)
                    << thread_role_name(role) << " allows every " << name << ", its creator "
                    << thread_role_name(creator) << " only some";
                for (const auto& value : call.values)
                    EXPECT_TRUE(found->second.values.contains(value))
                        << thread_role_name(role) << " allows " << name << " argument "
                        << std::get<0>(value) << " = " << std::get<2>(value) << ", its creator "
                        << thread_role_name(creator) << " does not";
            }
        }
}

TEST(SeccompModeTest, ReadsTheEnvironment) {
    ::setenv("VESSEL_SECCOMP", "log", 1);
    EXPECT_EQ(seccomp_mode_from_environment(SeccompMode::Enforce).value(), SeccompMode::Log);
    ::setenv("VESSEL_SECCOMP", "off", 1);
    EXPECT_EQ(seccomp_mode_from_environment(SeccompMode::Enforce).value(), SeccompMode::Off);
    ::setenv("VESSEL_SECCOMP", "sometimes", 1);
    auto bad = seccomp_mode_from_environment(SeccompMode::Enforce);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("VESSEL_SECCOMP=sometimes"), std::string::npos);
    ::unsetenv("VESSEL_SECCOMP");
    EXPECT_EQ(seccomp_mode_from_environment(SeccompMode::Off).value(), SeccompMode::Off);
}

} // namespace
} // namespace vessel::sandbox
