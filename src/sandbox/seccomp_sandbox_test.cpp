// Seccomp sandbox tests: each thread role's filter refuses what its role must not do (the child
// process reports the call and exits 159), allows what it needs, and the lists stay consistent.
#include "sandbox/seccomp_sandbox.hpp"

#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

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
           " \\([0-9]+\\), which its filter forbids";
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
    EXPECT_EXIT(run_filtered(ThreadRole::Vcpu, [] { ::syscall(SYS_ioctl, 0, TUNSETIFF, 0); }),
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
