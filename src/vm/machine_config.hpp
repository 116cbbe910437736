// MachineConfig: everything needed to build one VM, filled by the CLI or the API.
#pragma once

#include <cstdint>
#include <string>

namespace vessel {

/// Which engine runs the vCPUs; Auto picks KVM where it runs guest kernel code natively.
enum class EngineChoice { Auto, Kvm, Soft };

/// Which device the host console's input goes to; guest output from either reaches it.
enum class ConsoleChoice { Serial, Virtio };

struct MachineConfig {
    std::string kernel_path;
    std::string initrd_path; ///< Linux initrd, or the first Multiboot module; empty for none
    std::string command_line;
    std::uint64_t memory_size{256u << 20};
    std::uint32_t cpu_count{1};
    EngineChoice engine{EngineChoice::Auto};
    /// Virtio adds a virtio-console (Linux's hvc0) and sends console input to it.
    ConsoleChoice console{ConsoleChoice::Serial};
};

} // namespace vessel
