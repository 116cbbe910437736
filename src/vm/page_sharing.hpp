// Page sharing: guest RAM offered to the host kernel's KSM, and the KSM figures for metrics.
#pragma once

#include <cstdint>
#include <optional>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel {

/// What the host's KSM reports (/sys/kernel/mm/ksm) and this process's share of it
/// (/proc/self/ksm_stat). Figures are in 4 KiB pages; absent where the host has no KSM.
struct KsmCounters {
    bool available{false};          ///< /sys/kernel/mm/ksm exists
    bool running{false};            ///< its `run` is 1
    std::uint64_t pages_shared{0};  ///< host pages holding shared content
    std::uint64_t pages_sharing{0}; ///< guest pages mapped to them (the saving)
    std::uint64_t pages_unshared{0};
    std::uint64_t full_scans{0};
    std::optional<std::uint64_t> process_merging_pages; ///< this process's merged pages
};

/// Reads the host's KSM counters (never fails: missing files read as absent).
KsmCounters read_ksm_counters();

/// Marks guest RAM mergeable (MADV_MERGEABLE). Where KSM is switched off
/// (/sys/kernel/mm/ksm/run is 0) or missing, says so once per process, clearly, and goes on:
/// the RAM stays marked and is shared as soon as someone switches KSM on.
Result<void> enable_page_sharing(GuestMemory& memory);

} // namespace vessel
