// Kernel loading: recognises the kernel format and hands it to the matching loader.
#pragma once

#include <string_view>

#include "arch/x86/cpu_state.hpp"
#include "memory/guest_memory.hpp"
#include "vm/machine_config.hpp"

namespace vessel {

/// Linux command-line words that put its console on the chosen device. For the virtio console
/// (hvc0, a module in most kernels) early messages still go to COM1 through earlycon until
/// hvc0 registers and takes over.
std::string_view linux_console_arguments(ConsoleChoice console);

/// Checks that the kernel, initrd and disk images named in config exist and can be opened, so
/// a mistyped path is reported as such before guest RAM or an engine (/dev/kvm) is set up.
Result<void> check_input_files(const MachineConfig& config);

/// Reads the kernel (and initrd/module) named in config, loads it into memory and returns the
/// boot vCPU's entry state. Multiboot v1 and Linux bzImage are recognised; a Linux kernel
/// without a command line gets linux_console_arguments(config.console).
Result<x86::CpuState> load_kernel(GuestMemory& memory, const MachineConfig& config);

} // namespace vessel
