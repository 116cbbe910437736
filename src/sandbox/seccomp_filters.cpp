// The seccomp allow-lists, one table per thread role, read in one place. A thread may make only
// the system calls of its role's table (and of the shared table); anything else stops Vessel
// with a log line naming the thread and the call (seccomp_sandbox.cpp).
//
// How the lists were found: every suite of `make test` that runs Vessel on the software engine
// (API, Linux, snapshot, migration, balloon, vsock, GDB, CLI, guests, sandbox) ran under
// `strace -f` (tests/sandbox/census_syscalls.sh, census_report.py), which lists per role what
// its threads called once their filter was in place, and what they called before installing it
// (their creator's filter checks that). Each list is that census plus what code reading shows
// the census could not reach on this host: the KVM engine's ioctls, the SyncFileBackend fallback
// when io_uring is missing, interrupts raised from back-end threads on KVM, glibc's fallbacks.
// VESSEL_SECCOMP=log (tests/sandbox/collect_syscalls.sh) shows what a list misses.
//
// Filters stack (a thread keeps its creator's filter under its own), so a creator's list holds
// its children's: vmm holds vcpu's, api holds every back-end's and vmm's (in API mode the API
// thread builds machines and starts their threads). The narrow lists are vcpu, the back-ends and
// vmm; api is the control plane and stays wide.
#include "sandbox/seccomp_filters.hpp"

#include "base/kvm_uapi.hpp" // <linux/kvm.h> with the kernel's ioctl numbers under C++

#include <algorithm>
#include <array>
#include <asm/prctl.h>
#include <cerrno>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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

// The clone flags of glibc's pthread_create (nptl create_thread): a thread of this process,
// never a new process (fork, vfork, posix_spawn) and never new namespaces.
constexpr std::uint64_t thread_clone_flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                             CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
                                             CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
// openat flags that create, truncate or open for writing: a read-only open has none of them.
constexpr std::uint64_t open_write_flags = O_ACCMODE | O_CREAT | O_TRUNC;
// newfstatat(fd, "", buf, AT_EMPTY_PATH) is glibc's fstat(fd): the open file itself, no path.
constexpr std::uint64_t stat_of_descriptor = AT_EMPTY_PATH;

SyscallRule any(std::string_view name) {
    return {name, 0, {}};
}
SyscallRule only(std::string_view name, unsigned index, std::vector<std::uint64_t> values) {
    return {name, index, std::move(values)};
}
// Allowed when (argument & mask) == value.
SyscallRule masked(std::string_view name, unsigned index, std::uint64_t mask, std::uint64_t value) {
    return {name, index, {value}, mask};
}
// Refused with an errno the caller handles (no stop).
SyscallRule fails_with(std::string_view name, int error_number) {
    return {name, 0, {}, 0xffffffff, error_number};
}

// What glibc, libstdc++, the allocator, spdlog and the violation report need on any thread.
// mmap and mprotect only without PROT_EXEC: only the roles that emit code (the software vCPU's
// translator) and their creators may make memory executable.
std::vector<SyscallRule> shared_rules() {
    return {
        any("read"),
        any("write"),
        any("writev"), // glibc's fatal-error messages (abort, assert)
        any("close"),
        any("futex"),
        any("sched_yield"), // libstdc++'s atomic waits spin with it before the futex
        // vDSO calls; the kernel falls back to the system call on some clock sources
        any("clock_gettime"),
        any("gettimeofday"),
        any("clock_nanosleep"),
        any("nanosleep"),
        masked("mmap", 2, PROT_EXEC, 0),
        masked("mprotect", 2, PROT_EXEC, 0),
        any("munmap"),
        any("mremap"),
        any("madvise"),
        any("brk"),
        any("rt_sigprocmask"),
        any("rt_sigreturn"),
        any("restart_syscall"),
        any("getpid"),
        any("gettid"),
        any("fstat"),
        only("newfstatat", 3, {stat_of_descriptor}),
        any("exit"),
        any("exit_group"),
        any("tgkill"), // abort() and raise() end a failed assertion as SIGABRT, as without filters
        // The calling thread's own signal stack: AddressSanitizer asks for it before every
        // noreturn call (a C++ throw included), so an ASan build needs it on every thread.
        any("sigaltstack"),
        only("ioctl", 1,
             {terminal_get_modes, terminal_set_modes, terminal_set_drained, terminal_set_flushed}),
        // glibc 2.34+ starts threads with clone3, whose flags sit in memory a filter cannot
        // read; ENOSYS sends it to clone, whose flags the roles that start threads check.
        fails_with("clone3", ENOSYS),
    };
}

// Ioctls on a KVM vCPU fd that a vCPU thread makes while it runs, and on the VM fd for the
// devices it emulates (interrupt lines, MSIs, ioeventfds and GSI routes the guest reprograms).
std::vector<std::uint64_t> kvm_run_ioctls() {
    return {KVM_RUN,       KVM_GET_REGS,   KVM_SET_REGS,  KVM_GET_SREGS,  KVM_SET_SREGS,
            KVM_GET_LAPIC, KVM_SET_LAPIC,  KVM_SET_MSRS,  KVM_SET_CPUID2, KVM_SET_GUEST_DEBUG,
            KVM_IRQ_LINE,  KVM_SIGNAL_MSI, KVM_IOEVENTFD, KVM_IRQFD,      KVM_SET_GSI_ROUTING};
}

// Interrupts a back-end thread raises when it completes a request on KVM: an INTx line, or an
// MSI without an irqfd route (with one, raising it is a write to an eventfd).
std::vector<std::uint64_t> kvm_interrupt_ioctls() {
    return {KVM_IRQ_LINE, KVM_SIGNAL_MSI};
}

// Every ioctl Vessel makes on /dev/kvm, a VM fd or a vCPU fd, and on the terminal and TAP.
std::vector<std::uint64_t> control_plane_ioctls() {
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

// What a device does on the thread that runs it (a vCPU, or vessel-io's ioeventfd dispatch on
// KVM): virtio-rng's getrandom, virtio-blk's io_uring submits or, when io_uring is missing,
// SyncFileBackend's preadv/pwritev/fdatasync/fallocate (discard). Console output, eventfd kicks
// of back-end threads and the balloon's madvise are shared calls.
std::vector<SyscallRule> device_work_rules() {
    return {any("getrandom"), any("io_uring_enter"), any("preadv"),
            any("pwritev"),   any("fdatasync"),      any("fallocate")};
}

// A vCPU runs guest code: the engine (KVM_RUN, or the software engine's code cache, which it
// makes executable: mmap and mprotect with PROT_EXEC) and the devices it emulates inline; it
// opens nothing, makes no sockets and starts no threads or processes.
std::vector<SyscallRule> vcpu_rules() {
    std::vector<SyscallRule> rules = device_work_rules();
    rules.push_back(only("ioctl", 1, kvm_run_ioctls()));
    rules.push_back(any("mmap"));
    rules.push_back(any("mprotect"));
    // The software vCPU's translated user code reaches guest RAM through its page alias
    // window, the thread's gs base (set once per thread; nothing else is settable).
    rules.push_back(only("arch_prctl", 0, {ARCH_SET_GS}));
    // On KVM, a virtio BAR the guest maps gets an ioeventfd doorbell per queue, and an MSI-X
    // vector it programs an irqfd route: an eventfd each, made on the vCPU thread that handles
    // the write (then KVM_IOEVENTFD / KVM_IRQFD, above), and a doorbell joins vessel-io's epoll.
    rules.push_back(any("eventfd2"));
    rules.push_back(any("epoll_ctl"));
    return rules;
}

// vessel-io (KVM): waits on ioeventfds and runs the notified device, as a vCPU would.
std::vector<SyscallRule> io_rules() {
    std::vector<SyscallRule> rules = device_work_rules();
    rules.push_back(only("ioctl", 1, kvm_run_ioctls()));
    rules.push_back(any("epoll_wait"));
    rules.push_back(any("epoll_pwait"));
    rules.push_back(any("epoll_ctl"));
    return rules;
}

// libslirp's NAT makes the guest's TCP/UDP/ICMP connections on the host: inet sockets only (its
// imports: socket, bind, listen, accept, connect, send/recv(from/msg), get/setsockopt, fcntl,
// ioctl); a TAP back-end reads and writes its fd. Received frames interrupt the guest.
std::vector<SyscallRule> net_rules() {
    std::vector<std::uint64_t> ioctls = kvm_interrupt_ioctls();
    ioctls.push_back(terminal_bytes_readable);
    ioctls.push_back(set_non_blocking);
    return {
        any("poll"),        only("socket", 0, {AF_INET, AF_INET6}),
        any("connect"),     any("bind"),
        any("listen"),      any("accept"),
        any("getsockname"), any("getpeername"),
        any("setsockopt"),  any("getsockopt"),
        any("sendto"),      any("recvfrom"),
        any("recvmsg"),     any("shutdown"),
        any("fcntl"),       only("ioctl", 1, ioctls),
    };
}

// The io_uring reaper waits for completions, then completes the requests (interrupts).
std::vector<SyscallRule> block_rules() {
    return {any("io_uring_enter"), any("fdatasync"), any("fsync"),
            only("ioctl", 1, kvm_interrupt_ioctls())};
}

// The vsock host side: its epoll loop, Unix sockets only (the listening one, host clients,
// connections to PATH_port), and interrupts for what it puts in the guest's queue.
std::vector<SyscallRule> vsock_rules() {
    return {
        any("epoll_wait"), any("epoll_pwait"),
        any("epoll_ctl"),  only("socket", 0, {AF_UNIX}),
        any("connect"),    any("accept4"),
        any("sendto"),     any("recvfrom"),
        any("shutdown"),   only("ioctl", 1, kvm_interrupt_ioctls()),
    };
}

// The balloon's statistics timer only sleeps (a condition variable) and queues a request,
// which may interrupt the guest.
std::vector<SyscallRule> balloon_rules() {
    return {only("ioctl", 1, kvm_interrupt_ioctls())};
}

// The terminal loop polls stdin and the signal fd, reads, and writes the guest's output.
std::vector<SyscallRule> terminal_rules() {
    return {
        any("poll"),
        any("getpgrp"), // getpgrp: are we the foreground job?
        only("ioctl", 1,
             {terminal_window_size, terminal_foreground_group, terminal_bytes_readable}),
    };
}

// The GDB stub accepts one debugger at a time on its TCP or Unix socket.
// On KVM it reads and writes a parked vCPU's registers and arms its debug registers itself.
std::vector<SyscallRule> gdb_rules() {
    return {any("poll"),
            any("accept4"),
            any("sendto"),
            any("recvfrom"),
            any("setsockopt"),
            any("shutdown"),
            any("fcntl"),
            only("ioctl", 1,
                 {KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_SET_GUEST_DEBUG})};
}

// Starting threads (each then installs its own filter, under this one): pthread_create's clone
// and what a new thread does before its filter is in place.
std::vector<SyscallRule> thread_start_rules() {
    return {
        only("clone", 0, {thread_clone_flags}), any("set_robust_list"), any("rseq"),
        only("prctl", 0, {PR_SET_NO_NEW_PRIVS, PR_SET_NAME, PR_GET_NAME}), any("seccomp"),
        // AddressSanitizer's pthread_create checks memory is readable by writing it to a pipe
        // (an ASan build of Vessel starts its vCPU threads under the vmm filter).
        any("pipe2"),
        any("sched_getaffinity"), // pthread_getattr_np, which ASan calls as a thread starts
    };
}

// The VMM thread runs a built machine: it starts the vCPU threads (whose calls it must allow,
// see vcpu_rules), waits for the VM's end (poll on the quit and signal fds), pauses and resumes
// it, and tears it down (closing fds, removing the API and GDB socket files). It reads host
// state files (/proc/meminfo, KSM counters) but opens nothing for writing, makes no sockets and
// creates no VMs.
std::vector<SyscallRule> vmm_rules() {
    std::vector<SyscallRule> rules = vcpu_rules();
    for (auto& rule : thread_start_rules())
        rules.push_back(std::move(rule));
    for (auto& rule : std::vector<SyscallRule>{
             only("ioctl", 1,
                  {terminal_window_size, terminal_foreground_group, terminal_bytes_readable}),
             masked("openat", 2, open_write_flags, 0), // read-only
             any("newfstatat"),
             any("lseek"),
             any("unlink"),
             any("poll"),
             any("ppoll"),
             any("shutdown"),
         })
        rules.push_back(std::move(rule));
    return rules;
}

// The API thread is the VMM's control plane: it builds, snapshots, restores and migrates
// machines on requests (files, guest RAM, eventfds, io_uring rings, KVM VMs, TAP devices,
// migration sockets) and starts every other thread of a machine, so it holds their lists.
std::vector<SyscallRule> api_rules() {
    std::vector<SyscallRule> rules = vmm_rules();
    for (auto role_rules :
         {io_rules(), net_rules(), block_rules(), vsock_rules(), balloon_rules(), gdb_rules()})
        for (auto& rule : role_rules)
            rules.push_back(std::move(rule));
    for (auto& rule : std::vector<SyscallRule>{
             only("ioctl", 1, control_plane_ioctls()),
             // files: kernels, initrds, disks (OFD locks), snapshots, metrics, /proc and /sys
             any("openat"),
             any("access"),
             any("readlink"), // /proc/self/exe: where the default guest's initramfs lies
             any("pread64"),
             any("pwrite64"),
             any("fsync"),
             any("ftruncate"),
             any("rename"),
             any("memfd_create"), // the software engine's guest RAM (GuestMemory::create_shared)
             // and the file size limit it is checked against first (getrlimit: read only, a
             // null new limit)
             only("prlimit64", 2, {0}),
             // event sources, threads and signals of a machine being built
             any("eventfd2"),
             any("epoll_create1"),
             any("io_uring_setup"),
             any("rt_sigaction"), // the KVM vCPU kick signal's handler
             // sockets: the API's Unix socket, migration over Unix or TCP, the vsock listener
             only("socket", 0, {AF_UNIX, AF_INET, AF_INET6}),
             any("accept4"),
             // the terminal, when InstanceStart hands it the console
             any("getpgrp"),
         })
        rules.push_back(std::move(rule));
    return rules;
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
        if (rule.error_number == 0) names.push_back(rule.name);
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
        // Machine::run on a VMM thread; Machine::start on the API thread for a VM restored
        // from a snapshot or received by migration.
        return {ThreadRole::Vmm, ThreadRole::Api};
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
