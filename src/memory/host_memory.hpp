// HostMemory: the host's physical and available RAM, and whether a guest of a given size fits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace vessel {

/// The host's RAM as /proc/meminfo reports it.
struct HostMemory {
    std::uint64_t total_bytes{0};     ///< MemTotal: physical RAM the kernel manages
    std::uint64_t available_bytes{0}; ///< MemAvailable: what can be used now without swapping

    /// Reads /proc/meminfo.
    static Result<HostMemory> read();
    /// Parses meminfo text (MemTotal and MemAvailable lines, in kB).
    static Result<HostMemory> parse(std::string_view meminfo);
};

/// Refuses guest RAM larger than the host's physical memory: such a guest can only end in the
/// host's OOM killer (it grows as the guest touches pages). The error names both sizes.
Result<void> check_guest_memory_fits(std::uint64_t guest_bytes, const HostMemory& host);

/// A warning when guest RAM exceeds what the host has available now (it may swap or be killed
/// if the guest uses it all), or nothing.
std::optional<std::string> guest_memory_warning(std::uint64_t guest_bytes, const HostMemory& host);

/// check_guest_memory_fits on this host (HostMemory::read()); a host whose memory cannot be read
/// refuses nothing.
Result<void> check_guest_memory_on_host(std::uint64_t guest_bytes);

/// Logs guest_memory_warning's warning for this host, if any.
void warn_about_guest_memory(std::uint64_t guest_bytes);

/// "512 MiB", "24 GiB", "23.4 GiB": a size for messages.
std::string describe_memory_size(std::uint64_t bytes);

} // namespace vessel
