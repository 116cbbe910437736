// VirtioBalloon: the virtio memory balloon (virtio 1.2 §5.5): inflate/deflate, statistics,
// deflate-on-OOM and free page reporting, giving returned guest pages back to the host.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "devices/virtio/balloon/balloon_statistics.hpp"
#include "devices/virtio/virtio_device.hpp"

namespace vessel::virtio {

/// Device feature bits (virtio 1.2 §5.5.3).
namespace balloon_feature {
constexpr std::uint64_t must_tell_host = 1u << 0; ///< VIRTIO_BALLOON_F_MUST_TELL_HOST
constexpr std::uint64_t stats_vq = 1u << 1;       ///< VIRTIO_BALLOON_F_STATS_VQ
constexpr std::uint64_t deflate_on_oom = 1u << 2; ///< VIRTIO_BALLOON_F_DEFLATE_ON_OOM
constexpr std::uint64_t free_page_hint = 1u << 3; ///< VIRTIO_BALLOON_F_FREE_PAGE_HINT
constexpr std::uint64_t page_poison = 1u << 4;    ///< VIRTIO_BALLOON_F_PAGE_POISON
constexpr std::uint64_t page_reporting = 1u << 5; ///< VIRTIO_BALLOON_F_PAGE_REPORTING
} // namespace balloon_feature

/// What the balloon offers; fixed for the device's life (Firecracker's rule: statistics cannot
/// be switched on or off after boot, only their interval changed).
struct BalloonOptions {
    std::uint32_t target_pages{0};     ///< initial target, in 4 KiB pages
    bool deflate_on_oom{false};        ///< offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM
    std::uint32_t stats_interval_s{0}; ///< 0: no statistics queue
    bool free_page_reporting{false};   ///< offer VIRTIO_BALLOON_F_PAGE_REPORTING
};

/// What the device did and what it ignored; totals since creation.
struct BalloonCounters {
    std::uint64_t inflated_pages{0};    ///< pages given back to the host through inflateq
    std::uint64_t deflated_pages{0};    ///< pages the guest took back through deflateq
    std::uint64_t reported_pages{0};    ///< free pages given back through reporting_vq
    std::uint64_t reports{0};           ///< reporting_vq buffers (free ranges) handled
    std::uint64_t stats_updates{0};     ///< statistics buffers received
    std::uint64_t invalid_pfns{0};      ///< PFNs outside guest RAM, ignored
    std::uint64_t duplicate_pfns{0};    ///< inflate of an inflated page, deflate of one that is not
    std::uint64_t malformed_buffers{0}; ///< lengths that are no multiple of an entry
};

/// The balloon. Page frame numbers are in 4 KiB units whatever the guest's page size
/// (§5.5.6). A page the guest inflates is discarded (GuestMemory::discard: the host frees it,
/// it reads as zero afterwards, decoded code of it is dropped); deflating needs no host work.
/// The device remembers which pages are inflated, so a guest that repeats, invents or
/// overruns PFNs changes nothing and only moves the counters.
///
/// Threads: the transport's calls are serialized; the API's (set_target_pages, statistics,
/// ...) and the statistics timer take m_mutex too.
class VirtioBalloon final : public VirtioDevice {
  public:
    static constexpr std::uint16_t type = 5; ///< §5.5.1
    static constexpr std::uint16_t queue_size = 256;
    static constexpr std::uint64_t page_size = 4096;  ///< VIRTIO_BALLOON_PFN_SHIFT 12
    static constexpr std::uint32_t config_bytes = 16; ///< num_pages, actual, cmd id, poison

    /// guest_memory_size bounds the inflated-page map (one bit per page of RAM).
    VirtioBalloon(BalloonOptions options, std::uint64_t guest_memory_size);
    ~VirtioBalloon() override;

    std::string_view name() const override { return "virtio-balloon"; }
    std::uint16_t device_type() const override { return type; }
    std::uint64_t features() const override;
    std::uint16_t queue_count() const override;
    std::uint16_t queue_max_size(std::uint16_t) const override { return queue_size; }
    std::uint32_t config_size() const override { return config_bytes; }
    void read_config(std::uint32_t offset, std::span<std::uint8_t> data) override;
    void write_config(std::uint32_t offset, std::span<const std::uint8_t> data) override;
    Result<void> activate(const VirtioActivation& activation) override;
    void queue_notify(std::uint16_t index) override;
    void reset() override;
    /// Target and actual sizes, statistics interval, the statistics buffer held, the last
    /// report, the counters and which pages are inflated (balloon_snapshot.cpp).
    void save_device_state(StateWriter& writer) override;
    void load_device_state(StateReader& reader) override;

    // ---- host side (API, CLI) ----
    const BalloonOptions& options() const { return m_options; }
    /// Sets the target (num_pages) and tells an active driver with a configuration interrupt.
    void set_target_pages(std::uint32_t pages);
    std::uint32_t target_pages() const;
    /// The driver's `actual` field: pages it holds in the balloon now.
    std::uint32_t actual_pages() const;
    /// Whether a driver has activated the device.
    bool active() const;
    /// Changes the statistics interval; fails when that would switch statistics on or off.
    Result<void> set_stats_interval(std::uint32_t seconds);
    std::uint32_t stats_interval() const;
    /// The latest statistics report (nothing before the driver's first one).
    std::optional<BalloonStatistics> statistics() const;
    BalloonCounters counters() const;

  private:
    enum class Role { inflate, deflate, stats, reporting, none };
    Role role_of(std::uint16_t index) const;
    /// Serves what queue index holds (m_mutex held).
    void process_queue_locked(std::uint16_t index);
    void process_page_list(Virtqueue& queue, bool inflate);
    void process_reports(Virtqueue& queue);
    void process_stats(Virtqueue& queue);
    void inflate_page(std::uint32_t pfn);
    void deflate_page(std::uint32_t pfn);
    /// Index of pfn's page in m_inflated, or nothing when it is not RAM.
    std::optional<std::size_t> page_index(std::uint32_t pfn) const;
    /// Hands the held statistics buffer back, which asks the driver for a new report.
    void request_stats_locked();
    void stats_timer();

    const BalloonOptions m_options;
    mutable std::mutex m_mutex;
    std::optional<VirtioActivation> m_activation;
    std::uint64_t m_features{0}; ///< negotiated
    std::uint16_t m_stats_queue{0xffff};
    std::uint16_t m_reporting_queue{0xffff};
    std::uint32_t m_target_pages;
    std::uint32_t m_actual_pages{0};
    std::vector<bool> m_inflated; ///< by page of guest RAM (host mapping offset / 4 KiB)
    BalloonCounters m_counters;
    std::optional<BalloonStatistics> m_statistics;
    std::optional<std::uint16_t> m_stats_head; ///< the statistics buffer the device holds
    std::uint32_t m_stats_interval_s;
    bool m_stopping{false};
    std::condition_variable m_timer_wake;
    std::thread m_timer; ///< only when statistics are on
};

} // namespace vessel::virtio
