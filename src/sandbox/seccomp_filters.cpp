// The seccomp allow-lists, one table per thread role, read in one place. A thread may make only
// the system calls of its role's table (and of the shared table); anything else stops Vessel
// with a log line naming the thread and the call (seccomp_sandbox.cpp).
//
// How the lists were found: every suite of `make test` ran with VESSEL_SECCOMP=log, which
// allows everything but has the kernel log each call outside the lists (dmesg, "type=1326"
// with the thread's name); tests/sandbox/collect_syscalls.sh does that.
#include "sandbox/seccomp_filters.hpp"

#include <algorithm>
#include <array>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

namespace vessel::sandbox {
namespace {

// Terminal ioctls (asm-generic/ioctls.h). Every thread may read and set the terminal's modes:
// the violation report puts the terminal back before Vessel exits, on whichever thread.
constexpr std::uint64_t terminal_get_modes = TCGETS;    // tcgetattr, isatty
constexpr std::uint64_t terminal_set_modes = TCSETS;    // tcsetattr(TCSANOW)
constexpr std::uint64_t terminal_set_drained = TCSETSW; // tcsetattr(TCSADRAIN)
constexpr std::uint64_t terminal_set_flushed = TCSETSF; // tcsetattr(TCSAFLUSH)
constexpr std::uint64_t terminal_window_size = TIOCGWINSZ;
constexpr std::uint64_t terminal_foreground_group = TIOCGPGRP; // tcgetpgrp: are we in front?
constexpr std::uint64_t terminal_bytes_readable = FIONREAD;
constexpr std::uint64_t set_non_blocking = FIONBIO;

SyscallRule any(std::string_view name) {
    return {name, 0, {}};
}
SyscallRule only(std::string_view name, unsigned index, std::vector<std::uint64_t> values) {
    return {name, index, std::move(values)};
}

// What glibc, libstdc++, the allocator, spdlog and the violation report need on any thread.
std::vector<SyscallRule> shared_rules() {
    return {
        any("read"),
        any("write"),
        any("writev"),
        any("close"),
        any("futex"),
        any("sched_yield"),
        any("clock_gettime"),
        any("clock_nanosleep"),
        any("nanosleep"),
        any("gettimeofday"),
        any("mmap"),
        any("munmap"),
        any("mprotect"),
        any("mremap"),
        any("madvise"),
        any("brk"),
        any("rt_sigprocmask"),
        any("rt_sigreturn"),
        any("restart_syscall"),
        any("getpid"),
        any("gettid"),
        any("getrandom"),
        any("fstat"),
        any("newfstatat"), // glibc's fstat() is newfstatat(fd, "", AT_EMPTY_PATH)
        any("exit"),
        any("exit_group"),
        any("tgkill"), // abort() and raise() end a failed assertion as SIGABRT, as without filters
        // The calling thread's own signal stack: AddressSanitizer asks for it before every
        // noreturn call (a C++ throw included), so an ASan build needs it on every thread.
        any("sigaltstack"),
        only("ioctl", 1,
             {terminal_get_modes, terminal_set_modes, terminal_set_drained, terminal_set_flushed}),
    };
}

// Ioctls on a KVM vCPU fd that a vCPU thread makes while it runs, and on the VM fd for the
// devices it emulates (interrupt lines, MSIs, ioeventfds and GSI routes the guest reprograms).
std::vector<std::uint64_t> kvm_run_ioctls() {
    return {KVM_RUN,       KVM_GET_REGS,   KVM_SET_REGS,  KVM_GET_SREGS,  KVM_SET_SREGS,
            KVM_GET_LAPIC, KVM_SET_LAPIC,  KVM_SET_MSRS,  KVM_SET_CPUID2, KVM_SET_GUEST_DEBUG,
            KVM_IRQ_LINE,  KVM_SIGNAL_MSI, KVM_IOEVENTFD, KVM_IRQFD,      KVM_SET_GSI_ROUTING};
}

// Every ioctl Vessel makes on /dev/kvm, a VM fd or a vCPU fd, and on the terminal and TAP.
std::vector<std::uint64_t> vmm_ioctls() {
    std::vector<std::uint64_t> requests = kvm_run_ioctls();
    for (std::uint64_t request : {std::uint64_t{KVM_GET_API_VERSION},
                                  std::uint64_t{KVM_CHECK_EXTENSION},
                                  std::uint64_t{KVM_CREATE_VM},
                                  std::uint64_t{KVM_GET_VCPU_MMAP_SIZE},
                                  std::uint64_t{KVM_GET_SUPPORTED_CPUID},
                                  std::uint64_t{KVM_CREATE_VCPU},
                                  std::uint64_t{KVM_CREATE_IRQCHIP},
                                  std::uint64_t{KVM_CREATE_PIT2},
                                  std::uint64_t{KVM_SET_TSS_ADDR},
                                  std::uint64_t{KVM_SET_IDENTITY_MAP_ADDR},
                                  std::uint64_t{KVM_SET_USER_MEMORY_REGION},
                                  terminal_get_modes,
                                  terminal_set_modes,
                                  terminal_set_drained,
                                  terminal_set_flushed,
                                  terminal_window_size,
                                  terminal_foreground_group,
                                  terminal_bytes_readable,
                                  set_non_blocking,
                                  std::uint64_t{TUNSETIFF},
                                  std::uint64_t{TUNGETIFF},
                                  std::uint64_t{TUNSETVNETHDRSZ},
                                  std::uint64_t{TUNSETOFFLOAD}})
        requests.push_back(request);
    return requests;
}

// A vCPU runs guest code: the engine (KVM_RUN, or the software engine's code cache: mmap and
// mprotect above), the devices it emulates inline (virtio-blk submits, the balloon's madvise,
// eventfd kicks of back-end threads, the console's output) and nothing that opens anything.
std::vector<SyscallRule> vcpu_rules() {
    return {
        only("ioctl", 1, kvm_run_ioctls()),
        any("readv"),
        any("pread64"),
        any("pwrite64"),
        any("preadv"),
        any("pwritev"),
        any("preadv2"),
        any("pwritev2"),
        any("fdatasync"),
        any("fsync"),
        any("io_uring_enter"),
        any("poll"),
        any("ppoll"),
        any("sendto"),
        any("sendmsg"),
        any("recvfrom"),
        any("recvmsg"),
    };
}

// A back-end's event loop waits on fds and moves data: no new files, no new sockets.
std::vector<SyscallRule> io_rules() {
    return {
        only("ioctl", 1, kvm_run_ioctls()),
        any("epoll_wait"),
        any("epoll_pwait"),
        any("epoll_ctl"),
        any("poll"),
        any("ppoll"),
    };
}

// libslirp's NAT makes the guest's TCP/UDP/ICMP connections on the host: inet sockets only.
std::vector<SyscallRule> net_rules() {
    return {
        any("poll"),        any("ppoll"),
        any("readv"),       only("socket", 0, {AF_INET, AF_INET6}),
        any("connect"),     any("bind"),
        any("listen"),      any("accept"),
        any("accept4"),     any("getsockname"),
        any("getpeername"), any("setsockopt"),
        any("getsockopt"),  any("sendto"),
        any("sendmsg"),     any("recvfrom"),
        any("recvmsg"),     any("shutdown"),
        any("fcntl"),       only("ioctl", 1, {terminal_bytes_readable, set_non_blocking}),
    };
}

// The io_uring reaper waits for completions and resubmits.
std::vector<SyscallRule> block_rules() {
    return {any("io_uring_enter"), any("fdatasync"), any("fsync")};
}

// The vsock host side: Unix sockets only, the listening one and its connections.
std::vector<SyscallRule> vsock_rules() {
    return {
        any("poll"),        any("ppoll"),     any("epoll_wait"),
        any("epoll_pwait"), any("epoll_ctl"), only("socket", 0, {AF_UNIX}),
        any("connect"),     any("accept"),    any("accept4"),
        any("sendto"),      any("sendmsg"),   any("recvfrom"),
        any("recvmsg"),     any("shutdown"),  any("getsockopt"),
        any("setsockopt"),  any("fcntl"),
    };
}

// The balloon's statistics timer only sleeps (a condition variable) and queues a request.
std::vector<SyscallRule> balloon_rules() {
    return {};
}

// The terminal loop polls stdin and the signal fd, reads, and writes the guest's output.
std::vector<SyscallRule> terminal_rules() {
    return {
        any("poll"),
        any("ppoll"),
        any("getpgrp"), // getpgrp: are we the foreground job?
        only("ioctl", 1,
             {terminal_window_size, terminal_foreground_group, terminal_bytes_readable}),
    };
}

// The GDB stub accepts one debugger at a time on its TCP or Unix socket.
std::vector<SyscallRule> gdb_rules() {
    return {
        any("poll"),       any("ppoll"),      any("accept"),   any("accept4"),
        any("sendto"),     any("recvfrom"),   any("sendmsg"),  any("recvmsg"),
        any("setsockopt"), any("getsockopt"), any("shutdown"), any("fcntl"),
    };
}

// The VMM: builds, pauses, snapshots, restores and tears down machines, and starts the
// threads above (which inherit this filter under their own). It opens files (kernels, disks,
// snapshots), maps guest RAM, makes eventfds, io_uring rings and TAP devices.
std::vector<SyscallRule> vmm_rules() {
    return {
        only("ioctl", 1, vmm_ioctls()),
        // files: kernels, initrds, disks (OFD locks), snapshots, metrics, /proc and /sys
        any("openat"),
        any("open"),
        any("newfstatat"),
        any("statx"),
        any("lseek"),
        any("readv"),
        any("pread64"),
        any("pwrite64"),
        any("preadv"),
        any("pwritev"),
        any("preadv2"),
        any("pwritev2"),
        any("fsync"),
        any("fdatasync"),
        any("ftruncate"),
        any("fallocate"),
        any("fcntl"),
        any("unlink"),
        any("unlinkat"),
        any("readlink"),
        any("readlinkat"),
        any("getdents64"),
        any("faccessat"),
        any("faccessat2"),
        any("access"),
        any("mkdir"),
        any("mkdirat"),
        any("rename"),
        any("renameat"),
        any("dup"),
        any("dup2"),
        any("dup3"),
        any("pipe2"),
        // memory: guest RAM, snapshot memory files, the code cache
        any("memfd_create"),
        any("mlock"),
        any("munlock"),
        any("msync"),
        any("mincore"),
        // event sources and waiting
        any("eventfd2"),
        any("signalfd4"),
        any("timerfd_create"),
        any("timerfd_settime"),
        any("epoll_create1"),
        any("epoll_ctl"),
        any("epoll_wait"),
        any("epoll_pwait"),
        any("poll"),
        any("ppoll"),
        any("select"),
        any("pselect6"),
        any("io_uring_setup"),
        any("io_uring_enter"),
        any("io_uring_register"),
        // threads: starting them (each then installs its own filter), kicking vCPUs
        any("clone"),
        any("clone3"),
        any("set_robust_list"),
        any("rseq"),
        any("rt_sigaction"),
        any("sigaltstack"),
        any("sched_getaffinity"),
        only("prctl", 0, {PR_SET_NO_NEW_PRIVS, PR_SET_NAME, PR_GET_NAME}),
        any("seccomp"),
        any("tkill"),
        // sockets: the API and vsock Unix sockets, slirp's and the GDB stub's inet ones
        only("socket", 0, {AF_UNIX, AF_INET, AF_INET6}),
        any("socketpair"),
        any("bind"),
        any("listen"),
        any("accept"),
        any("accept4"),
        any("connect"),
        any("getsockname"),
        any("getpeername"),
        any("setsockopt"),
        any("getsockopt"),
        any("sendto"),
        any("sendmsg"),
        any("recvfrom"),
        any("recvmsg"),
        any("shutdown"),
        // identity and limits, for logs and memory checks
        any("getpgrp"),
        any("getuid"),
        any("geteuid"),
        any("getgid"),
        any("getegid"),
        any("getppid"),
        any("uname"),
        any("sysinfo"),
        any("getrlimit"),
        any("prlimit64"),
        any("kill"),
    };
}

// The API thread is the VMM's control plane: it builds and restores machines on requests.
std::vector<SyscallRule> api_rules() {
    return vmm_rules();
}

std::vector<SyscallRule> role_rules(ThreadRole role) {
    switch (role) {
    case ThreadRole::Vmm:
        return vmm_rules();
    case ThreadRole::Api:
        return api_rules();
    case ThreadRole::Vcpu:
        return vcpu_rules();
    case ThreadRole::Io:
        return io_rules();
    case ThreadRole::Net:
        return net_rules();
    case ThreadRole::Block:
        return block_rules();
    case ThreadRole::Vsock:
        return vsock_rules();
    case ThreadRole::Balloon:
        return balloon_rules();
    case ThreadRole::Terminal:
        return terminal_rules();
    case ThreadRole::Gdb:
        return gdb_rules();
    }
    return {};
}

constexpr std::array<ThreadRole, thread_role_count> roles{
    ThreadRole::Vmm,      ThreadRole::Api,   ThreadRole::Vcpu,  ThreadRole::Io,
    ThreadRole::Net,      ThreadRole::Block, ThreadRole::Vsock, ThreadRole::Balloon,
    ThreadRole::Terminal, ThreadRole::Gdb};

} // namespace

std::vector<SyscallRule> syscall_rules(ThreadRole role) {
    std::vector<SyscallRule> rules = shared_rules();
    for (auto& rule : role_rules(role))
        rules.push_back(std::move(rule));
    return rules;
}

std::vector<std::string_view> allowed_syscall_names(ThreadRole role) {
    std::vector<std::string_view> names;
    for (const auto& rule : syscall_rules(role))
        names.push_back(rule.name);
    std::ranges::sort(names);
    const auto repeats = std::ranges::unique(names);
    names.erase(repeats.begin(), repeats.end());
    return names;
}

std::span<const ThreadRole> all_thread_roles() {
    return roles;
}

std::vector<ThreadRole> creator_roles(ThreadRole role) {
    switch (role) {
    case ThreadRole::Vcpu:
        return {ThreadRole::Vmm}; // Machine::run on a VMM thread
    case ThreadRole::Vmm:
        return {ThreadRole::Api}; // the API starts the VM's thread
    case ThreadRole::Io:
    case ThreadRole::Net:
    case ThreadRole::Block:
    case ThreadRole::Vsock:
    case ThreadRole::Balloon:
    case ThreadRole::Gdb:
        return {ThreadRole::Api}; // Machine::create on an API request
    case ThreadRole::Api:
    case ThreadRole::Terminal:
        return {}; // started by the main thread before its filter
    }
    return {};
}

} // namespace vessel::sandbox
