// BalloonStatistics: the memory statistics a virtio-balloon driver reports (virtio 1.2 §5.5.6.3).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace vessel::virtio {

/// The statistics tags of §5.5.6.3 (VIRTIO_BALLOON_S_*), in tag order.
enum class BalloonStatistic : std::uint16_t {
    swap_in = 0,             ///< VIRTIO_BALLOON_S_SWAP_IN: bytes swapped in
    swap_out = 1,            ///< VIRTIO_BALLOON_S_SWAP_OUT: bytes swapped out
    major_faults = 2,        ///< VIRTIO_BALLOON_S_MAJFLT
    minor_faults = 3,        ///< VIRTIO_BALLOON_S_MINFLT
    free_memory = 4,         ///< VIRTIO_BALLOON_S_MEMFREE: bytes
    total_memory = 5,        ///< VIRTIO_BALLOON_S_MEMTOT: bytes
    available_memory = 6,    ///< VIRTIO_BALLOON_S_AVAIL: bytes
    disk_caches = 7,         ///< VIRTIO_BALLOON_S_CACHES: bytes
    hugetlb_allocations = 8, ///< VIRTIO_BALLOON_S_HTLB_PGALLOC
    hugetlb_failures = 9,    ///< VIRTIO_BALLOON_S_HTLB_PGFAIL
};

/// One report: each statistic the driver sent, absent when it sent none.
struct BalloonStatistics {
    static constexpr std::size_t count = 10;
    /// Firecracker's names for the tags (its BalloonStats JSON fields), by tag.
    static constexpr std::array<std::string_view, count> names = {
        "swap_in",          "swap_out",    "major_faults",
        "minor_faults",     "free_memory", "total_memory",
        "available_memory", "disk_caches", "hugetlb_allocations",
        "hugetlb_failures"};
    /// Size of one entry on the queue: le16 tag, le64 value, packed (§5.5.6.3).
    static constexpr std::size_t entry_size = 10;

    std::array<std::optional<std::uint64_t>, count> values{};

    std::optional<std::uint64_t> operator[](BalloonStatistic tag) const {
        return values[static_cast<std::size_t>(tag)];
    }

    /// Decodes a buffer of entries. Unknown tags are skipped (newer drivers send more);
    /// `malformed` is set when the length is no multiple of an entry (the tail is ignored).
    static BalloonStatistics parse(std::span<const std::uint8_t> bytes, bool& malformed);
};

} // namespace vessel::virtio
