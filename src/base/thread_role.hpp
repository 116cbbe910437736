// ThreadRole: what each thread Vessel starts is for, announced when it starts (seccomp hook).
#pragma once

#include <cstdint>
#include <string_view>

namespace vessel {

/// The kinds of threads Vessel runs. Each one has its own seccomp filter (src/sandbox), which a
/// thread installs by calling enter_thread_role() before it does anything else.
enum class ThreadRole : std::uint8_t {
    Vmm,      ///< the main thread once the VM is built, and the thread running Machine::run
    Api,      ///< the HTTP server on the API socket (it also builds and restores machines)
    Vcpu,     ///< one per vCPU: runs guest code
    Io,       ///< vessel-io: ioeventfd/irqfd event loop (KVM)
    Net,      ///< a network back-end's thread (libslirp or TAP)
    Block,    ///< the io_uring completion reaper of a block back-end
    Vsock,    ///< vessel-vsock: the virtio-vsock host side
    Balloon,  ///< the virtio-balloon statistics timer
    Terminal, ///< the terminal input loop (stdin, signals)
    Gdb,      ///< the GDB remote stub's socket server
};

inline constexpr std::size_t thread_role_count = 10;

/// The role's name as logs and filters show it ("vcpu", "api", ...).
std::string_view thread_role_name(ThreadRole role);

/// Called by enter_thread_role(); null (the default, and in unit tests) does nothing.
using ThreadRoleHook = void (*)(ThreadRole role);

/// Sets the hook every thread calls when it takes up its role (the sandbox installs the
/// thread's seccomp filter there). Set once on the main thread before other threads start.
void set_thread_role_hook(ThreadRoleHook hook);

/// Announces the calling thread's role: call first thing in a thread Vessel starts, and on the
/// main thread once it has set the VM up.
void enter_thread_role(ThreadRole role);

} // namespace vessel
