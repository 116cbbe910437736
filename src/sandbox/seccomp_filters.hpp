// The seccomp allow-lists, one per thread role: the system calls each kind of thread may make.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/thread_role.hpp"

namespace vessel::sandbox {

/// One allowed system call. With argument_values non-empty, the call is allowed only when its
/// argument number argument_index equals one of them (an ioctl request, a socket family, ...).
struct SyscallRule {
    std::string_view name; ///< as libseccomp and `man 2` spell it ("ioctl", "openat")
    unsigned argument_index{0};
    std::vector<std::uint64_t> argument_values;
    /// The bits of the argument compared with argument_values: all of a C int by default;
    /// PROT_EXEC alone for mmap/mprotect "without PROT_EXEC" (value 0).
    std::uint64_t argument_mask{0xffffffff};
    /// Non-zero: the call is not allowed but fails with this errno instead of stopping Vessel
    /// (clone3 answers ENOSYS, so glibc falls back to clone, whose flags a filter can read).
    int error_number{0};
};

/// The allow-list of a thread role: every rule of the role, the rules all threads share
/// included (glibc, the allocator, logging, the violation report). Anything else is refused.
std::vector<SyscallRule> syscall_rules(ThreadRole role);

/// The distinct system calls a role may make (its rules' names, sorted, without repeats; the
/// calls answered with an errno are not counted).
std::vector<std::string_view> allowed_syscall_names(ThreadRole role);

/// Every role, in ThreadRole order.
std::span<const ThreadRole> all_thread_roles();

/// The role whose thread starts threads of this role, whose filter they inherit (seccomp
/// filters stack, so a child can do at most what its creator's filter allows); the role
/// itself when it has no filtered creator.
std::vector<ThreadRole> creator_roles(ThreadRole role);

} // namespace vessel::sandbox
