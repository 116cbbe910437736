// Kernel loading: recognises the kernel format and hands it to the matching loader.
#pragma once

#include "arch/x86/cpu_state.hpp"
#include "memory/guest_memory.hpp"
#include "vm/machine_config.hpp"

namespace vessel {

/// Reads the kernel (and initrd/module) named in config, loads it into memory and returns the
/// boot vCPU's entry state. Multiboot v1 and Linux bzImage are recognised.
Result<x86::CpuState> load_kernel(GuestMemory& memory, const MachineConfig& config);

} // namespace vessel
