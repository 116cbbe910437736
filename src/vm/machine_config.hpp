// MachineConfig: everything needed to build one VM, filled by the CLI or the API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backends/block/block_backend_factory.hpp"
#include "backends/net/network_config.hpp"

namespace vessel {

/// Which engine runs the vCPUs; Auto picks KVM where it runs guest kernel code natively.
/// Soft runs hot guest code through the translator; SoftInterpreter only interprets.
enum class EngineChoice { Auto, Kvm, Soft, SoftInterpreter };

/// Which device the host console's input goes to; guest output from either reaches it.
enum class ConsoleChoice { Serial, Virtio };

/// One virtio-blk disk backed by a raw image file; the guest sees them as vda, vdb, ... in order.
struct DiskConfig {
    std::string path;
    bool read_only{false};
    std::string id; ///< serial for VIRTIO_BLK_T_GET_ID (at most 20 bytes used); empty: "vdX"
    BlockEngine engine{BlockEngine::automatic}; ///< io_uring with a synchronous fallback
    BlockCache cache{BlockCache::writeback};    ///< whether guest flushes reach the disk
    bool root{false}; ///< `--disk PATH,root`: the root file system (vda, root= on the cmdline)
};

/// A virtio-vsock device with Firecracker's host side: host clients connect to uds_path and
/// write "CONNECT <port>\n"; guest connections to port P reach the socket `<uds_path>_<P>`.
struct VsockConfig {
    std::uint64_t guest_cid{3}; ///< at least 3 (0-2 are reserved)
    std::string uds_path;
};

/// A virtio-balloon device (Firecracker's Balloon resource; `vessel run --balloon`).
struct BalloonConfig {
    std::uint32_t target_mib{0};       ///< memory the balloon should take from the guest
    bool deflate_on_oom{false};        ///< the guest may deflate under memory pressure
    std::uint32_t stats_interval_s{0}; ///< 0: no statistics
    bool free_page_reporting{false};   ///< the guest returns free pages to the host on its own
};

/// Disks and network interfaces together, at most: each is a virtio PCI device, and PCI bus 0
/// has 32 slots, of which the host bridge, the entropy device and the console, vsock and
/// balloon devices (when configured) keep 5. Firecracker documents no limit (its MMIO slots are
/// finite too); refusing the 28th device up front beats failing at boot.
inline constexpr std::size_t max_disks_and_networks = 27;

struct MachineConfig {
    std::string kernel_path;
    std::string initrd_path; ///< Linux initrd, or the first Multiboot module; empty for none
    std::string command_line;
    std::uint64_t memory_size{256u << 20};
    std::uint32_t cpu_count{1};
    EngineChoice engine{EngineChoice::Auto};
    /// The software CPU's model (`--cpu-model`: baseline, x86-64-v2, x86-64-v3, max); empty:
    /// x86-64-v2 on the translator, the highest the host can run on the interpreter alone.
    /// CPUID and instruction availability follow it (Vessel extension).
    std::string cpu_model;
    /// Virtio adds a virtio-console (Linux's hvc0) and sends console input to it.
    ConsoleChoice console{ConsoleChoice::Serial};
    std::vector<DiskConfig> disks;
    std::vector<NetworkConfig> networks; ///< one virtio-net device each, in PCI slot order
    std::optional<VsockConfig> vsock;
    std::optional<BalloonConfig> balloon;
    /// Marks guest RAM mergeable so the host's KSM shares identical pages (Vessel extension).
    bool page_sharing{false};
};

} // namespace vessel
