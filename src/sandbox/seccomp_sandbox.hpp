// The seccomp sandbox: compiles each thread role's filter and installs it when a thread starts.
#pragma once

#include <string_view>

#include "base/result.hpp"
#include "base/thread_role.hpp"

namespace vessel::sandbox {

/// Exit status when a thread makes a system call its filter forbids (128 + SIGSYS, the status
/// a shell shows for a process killed by that signal).
inline constexpr int violation_exit_status = 159;

enum class SeccompMode {
    Enforce, ///< calls outside a thread's list stop Vessel with a log line (the default)
    Log,     ///< calls outside the lists are allowed and logged by the kernel (dmesg, audit
             ///< type=1326, with the thread's name): for building the lists
    Off,     ///< no filters (--no-seccomp)
};

/// The mode named by `VESSEL_SECCOMP` (enforce, log or off), else fallback; an unknown value
/// is an error naming it.
Result<SeccompMode> seccomp_mode_from_environment(SeccompMode fallback);

/// Builds every role's BPF program (libseccomp) for mode; nothing is installed yet. Fails
/// naming the rule libseccomp refused.
Result<void> compile_filters(SeccompMode mode);

/// The SIGSYS handler that reports a forbidden call: one line on stderr naming the thread, its
/// role and the call, then the cleanup (the terminal's modes put back) and _exit(159).
void install_violation_handler();

/// Run by the violation handler before Vessel exits; must be async-signal-safe.
void set_violation_cleanup(void (*cleanup)());

/// Installs role's compiled filter on the calling thread (no_new_privs first). Filters stack:
/// the thread keeps whatever filter it inherited from the thread that started it.
Result<void> install_thread_filter(ThreadRole role);

/// compile_filters + install_violation_handler + the thread-role hook, so that every thread
/// installs its filter when it takes up its role (a failure there is fatal, with a message).
/// Off does nothing.
Result<void> activate_seccomp(SeccompMode mode);

/// The mode activate_seccomp() set (Off before it ran).
SeccompMode active_seccomp_mode();

} // namespace vessel::sandbox
