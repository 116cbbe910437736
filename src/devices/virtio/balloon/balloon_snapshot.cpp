// Snapshot state of the virtio-balloon device beyond its transport (docs/SNAPSHOT_FORMAT.md).
#include <bit>

#include "base/state_archive.hpp"
#include "devices/virtio/balloon/virtio_balloon.hpp"

namespace vessel::virtio {

namespace {

/// Which pages are inflated, one bit per 4 KiB page of RAM, in u64 words (bit i of word w is
/// page 64 * w + i).
std::vector<std::uint64_t> pack(const std::vector<bool>& pages) {
    std::vector<std::uint64_t> words((pages.size() + 63) / 64);
    for (std::size_t page = 0; page < pages.size(); ++page)
        if (pages[page]) words[page / 64] |= std::uint64_t{1} << (page % 64);
    return words;
}

} // namespace

void VirtioBalloon::save_device_state(StateWriter& writer) {
    std::lock_guard lock(m_mutex);
    std::optional<std::array<std::optional<std::uint64_t>, BalloonStatistics::count>> statistics;
    if (m_statistics) statistics = m_statistics->values;
    writer(m_target_pages, m_actual_pages, m_stats_interval_s, m_stats_head, statistics,
           m_counters.inflated_pages, m_counters.deflated_pages, m_counters.reported_pages,
           m_counters.reports, m_counters.stats_updates, m_counters.invalid_pfns,
           m_counters.duplicate_pfns, m_counters.malformed_buffers, pack(m_inflated));
}

void VirtioBalloon::load_device_state(StateReader& reader) {
    std::uint32_t target = 0, actual = 0, interval = 0;
    std::optional<std::uint16_t> stats_head;
    std::optional<std::array<std::optional<std::uint64_t>, BalloonStatistics::count>> statistics;
    BalloonCounters counters;
    std::vector<std::uint64_t> words;
    reader(target, actual, interval, stats_head, statistics, counters.inflated_pages,
           counters.deflated_pages, counters.reported_pages, counters.reports,
           counters.stats_updates, counters.invalid_pfns, counters.duplicate_pfns,
           counters.malformed_buffers, words);
    if (!reader.ok()) return;
    std::lock_guard lock(m_mutex);
    const std::size_t pages = m_inflated.size();
    reader.check(target <= pages, "balloon target pages");
    // The statistics timer runs only when the device was built with statistics on.
    reader.check((interval == 0) == (m_options.stats_interval_s == 0),
                 "balloon statistics interval");
    reader.check(!stats_head || *stats_head < queue_size, "balloon statistics buffer");
    reader.check(words.size() == (pages + 63) / 64, "balloon page map size");
    if (reader.ok() && pages % 64 != 0)
        reader.check(words.back() >> (pages % 64) == 0, "balloon page map beyond RAM");
    if (!reader.ok()) return;
    m_target_pages = target;
    m_actual_pages = actual;
    m_stats_interval_s = interval;
    m_stats_head = stats_head;
    m_statistics.reset();
    if (statistics) m_statistics = BalloonStatistics{*statistics};
    m_counters = counters;
    for (std::size_t page = 0; page < pages; ++page)
        m_inflated[page] = ((words[page / 64] >> (page % 64)) & 1) != 0;
}

} // namespace vessel::virtio
