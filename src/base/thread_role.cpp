// ThreadRole names and the hook each thread calls when it takes up its role.
#include "base/thread_role.hpp"

#include <atomic>

namespace vessel {
namespace {
std::atomic<ThreadRoleHook> role_hook{nullptr};
} // namespace

std::string_view thread_role_name(ThreadRole role) {
    switch (role) {
    case ThreadRole::Vmm:
        return "vmm";
    case ThreadRole::Api:
        return "api";
    case ThreadRole::Vcpu:
        return "vcpu";
    case ThreadRole::Io:
        return "io";
    case ThreadRole::Net:
        return "net";
    case ThreadRole::Block:
        return "block";
    case ThreadRole::Vsock:
        return "vsock";
    case ThreadRole::Balloon:
        return "balloon";
    case ThreadRole::Terminal:
        return "terminal";
    case ThreadRole::Gdb:
        return "gdb";
    }
    return "unknown";
}

void set_thread_role_hook(ThreadRoleHook hook) {
    role_hook.store(hook);
}

void enter_thread_role(ThreadRole role) {
    if (auto hook = role_hook.load()) hook(role);
}

} // namespace vessel
