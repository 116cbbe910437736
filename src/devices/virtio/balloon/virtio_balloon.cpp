// VirtioBalloon: queue processing, the configuration space and the statistics timer.
#include "devices/virtio/balloon/virtio_balloon.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/log.hpp"
#include "base/thread_role.hpp"
#include "devices/virtio/virtqueue.hpp"

namespace vessel::virtio {

namespace {
// Configuration space (§5.5.4): le32 num_pages (device), le32 actual (driver), le32
// free_page_hint_cmd_id, le32 poison_val (neither feature is offered: they read 0).
constexpr std::uint32_t config_num_pages = 0;
constexpr std::uint32_t config_actual = 4;
// Queue order (§5.5.2): inflateq, deflateq, then statsq and reporting_vq when negotiated;
// absent queues take no index (the driver numbers the queues it uses one after another).
constexpr std::uint16_t inflate_queue = 0;
constexpr std::uint16_t deflate_queue = 1;
constexpr std::uint16_t no_queue = 0xffff;
/// The largest statistics buffer read (the spec defines 10 tags of 10 bytes).
constexpr std::uint64_t max_stats_bytes = 4096;
} // namespace

VirtioBalloon::VirtioBalloon(BalloonOptions options, std::uint64_t guest_memory_size)
    : m_options(options), m_target_pages(options.target_pages),
      m_inflated(guest_memory_size / page_size), m_stats_interval_s(options.stats_interval_s) {
    if (m_options.stats_interval_s != 0)
        m_timer = std::thread([this] {
            enter_thread_role(ThreadRole::Balloon);
            stats_timer();
        });
}

VirtioBalloon::~VirtioBalloon() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_timer_wake.notify_all();
    if (m_timer.joinable()) m_timer.join();
}

std::uint64_t VirtioBalloon::features() const {
    std::uint64_t offered = 0;
    if (m_options.stats_interval_s != 0) offered |= balloon_feature::stats_vq;
    if (m_options.deflate_on_oom) offered |= balloon_feature::deflate_on_oom;
    if (m_options.free_page_reporting) offered |= balloon_feature::page_reporting;
    return offered;
}

std::uint16_t VirtioBalloon::queue_count() const {
    return static_cast<std::uint16_t>(2 + (m_options.stats_interval_s != 0 ? 1 : 0) +
                                      (m_options.free_page_reporting ? 1 : 0));
}

void VirtioBalloon::read_config(std::uint32_t offset, std::span<std::uint8_t> data) {
    std::uint32_t words[config_bytes / 4] = {};
    {
        std::lock_guard lock(m_mutex);
        words[config_num_pages / 4] = m_target_pages;
        words[config_actual / 4] = m_actual_pages;
    }
    std::uint8_t bytes[config_bytes];
    std::memcpy(bytes, words, sizeof(bytes)); // little-endian host, as the fields are
    std::fill(data.begin(), data.end(), 0);
    if (offset >= config_bytes) return;
    std::memcpy(data.data(), bytes + offset,
                std::min<std::size_t>(data.size(), config_bytes - offset));
}

void VirtioBalloon::write_config(std::uint32_t offset, std::span<const std::uint8_t> data) {
    // Only `actual` is the driver's to write (§5.5.4); Linux writes it as one le32.
    if (offset != config_actual || data.size() != 4) return;
    std::uint32_t actual;
    std::memcpy(&actual, data.data(), sizeof(actual));
    std::lock_guard lock(m_mutex);
    m_actual_pages = actual;
}

Result<void> VirtioBalloon::activate(const VirtioActivation& activation) {
    std::lock_guard lock(m_mutex);
    m_activation.emplace(activation);
    m_features = activation.features;
    std::uint16_t next = deflate_queue + 1;
    m_stats_queue = (m_features & balloon_feature::stats_vq) != 0 ? next++ : no_queue;
    m_reporting_queue = (m_features & balloon_feature::page_reporting) != 0 ? next++ : no_queue;
    // Linux posts its first statistics buffer and kicks before it sets DRIVER_OK, when the
    // transport does not pass notifies on yet: take what the queues already hold.
    for (std::uint16_t index = 0; index < m_activation->queues.size(); ++index)
        process_queue_locked(index);
    return {};
}

void VirtioBalloon::reset() {
    std::lock_guard lock(m_mutex);
    m_activation.reset();
    m_stats_head.reset();
    m_stats_queue = m_reporting_queue = no_queue;
    // A reset driver starts with an empty balloon (§5.5.6.1): every page is the guest's again.
    std::fill(m_inflated.begin(), m_inflated.end(), false);
    m_actual_pages = 0;
}

VirtioBalloon::Role VirtioBalloon::role_of(std::uint16_t index) const {
    if (index == inflate_queue) return Role::inflate;
    if (index == deflate_queue) return Role::deflate;
    if (index == m_stats_queue) return Role::stats;
    if (index == m_reporting_queue) return Role::reporting;
    return Role::none;
}

void VirtioBalloon::queue_notify(std::uint16_t index) {
    std::lock_guard lock(m_mutex);
    process_queue_locked(index);
}

void VirtioBalloon::process_queue_locked(std::uint16_t index) {
    if (!m_activation || index >= m_activation->queues.size()) return;
    Virtqueue* queue = m_activation->queues[index];
    if (queue == nullptr) return;
    switch (role_of(index)) {
    case Role::inflate:
        return process_page_list(*queue, true);
    case Role::deflate:
        return process_page_list(*queue, false);
    case Role::stats:
        return process_stats(*queue);
    case Role::reporting:
        return process_reports(*queue);
    case Role::none:
        return;
    }
}

// inflateq and deflateq buffers are arrays of le32 page frame numbers (§5.5.6.1).
void VirtioBalloon::process_page_list(Virtqueue& queue, bool inflate) {
    GuestMemory& memory = m_activation->memory;
    bool pushed = false;
    while (auto chain = queue.pop()) {
        for (const auto& buffer : chain->readable) {
            if (buffer.length % sizeof(std::uint32_t) != 0) ++m_counters.malformed_buffers;
            auto bytes = memory.slice(buffer.address, buffer.length);
            if (!bytes) continue; // cannot happen: the virtqueue checked every buffer
            for (std::size_t at = 0; at + sizeof(std::uint32_t) <= bytes->size();
                 at += sizeof(std::uint32_t)) {
                std::uint32_t pfn;
                std::memcpy(&pfn, bytes->data() + at, sizeof(pfn)); // unaligned guest data
                inflate ? inflate_page(pfn) : deflate_page(pfn);
            }
        }
        pushed |= queue.push(chain->head, 0);
    }
    if (pushed && queue.needs_interrupt()) m_activation->interrupt.signal_used(queue.index());
}

std::optional<std::size_t> VirtioBalloon::page_index(std::uint32_t pfn) const {
    const std::uint64_t address = std::uint64_t{pfn} * page_size;
    const std::uint8_t* host = m_activation->memory.host_pointer(address, page_size);
    if (host == nullptr) return std::nullopt;
    const std::size_t index =
        static_cast<std::size_t>(host - m_activation->memory.host_base()) / page_size;
    if (index >= m_inflated.size()) return std::nullopt;
    return index;
}

void VirtioBalloon::inflate_page(std::uint32_t pfn) {
    auto index = page_index(pfn);
    if (!index) {
        ++m_counters.invalid_pfns;
        return;
    }
    if (m_inflated[*index]) {
        ++m_counters.duplicate_pfns;
        return;
    }
    const std::uint64_t address = std::uint64_t{pfn} * page_size;
    if (auto discarded = m_activation->memory.discard(address, page_size); !discarded) {
        log::warn("virtio-balloon: {}", discarded.error().message);
        return;
    }
    m_inflated[*index] = true;
    ++m_counters.inflated_pages;
}

void VirtioBalloon::deflate_page(std::uint32_t pfn) {
    auto index = page_index(pfn);
    if (!index) {
        ++m_counters.invalid_pfns;
        return;
    }
    if (!m_inflated[*index]) {
        ++m_counters.duplicate_pfns;
        return;
    }
    // The page was discarded when it was inflated; the guest finds zeros when it uses it.
    m_inflated[*index] = false;
    ++m_counters.deflated_pages;
}

// reporting_vq buffers each describe one range of free guest memory (§5.5.6.5); the driver
// gets them back once the host has taken the pages. Only whole pages inside are discarded.
void VirtioBalloon::process_reports(Virtqueue& queue) {
    GuestMemory& memory = m_activation->memory;
    bool pushed = false;
    while (auto chain = queue.pop()) {
        auto report = [&](const VirtqueueBuffer& buffer) {
            const std::uint64_t first = (buffer.address + page_size - 1) / page_size * page_size;
            const std::uint64_t last = (buffer.address + buffer.length) / page_size * page_size;
            ++m_counters.reports;
            if (first >= last) return;
            if (auto discarded = memory.discard(first, last - first); !discarded) {
                log::warn("virtio-balloon: free page report: {}", discarded.error().message);
                return;
            }
            m_counters.reported_pages += (last - first) / page_size;
        };
        // Linux posts the ranges device-writable; the spec leaves the direction open.
        std::for_each(chain->writable.begin(), chain->writable.end(), report);
        std::for_each(chain->readable.begin(), chain->readable.end(), report);
        pushed |= queue.push(chain->head, 0);
    }
    if (pushed && queue.needs_interrupt()) m_activation->interrupt.signal_used(queue.index());
}

// The driver posts one statistics buffer; the device keeps it and returns it when it wants
// fresh figures, and the driver answers by posting it again, refilled (§5.5.6.3).
void VirtioBalloon::process_stats(Virtqueue& queue) {
    GuestMemory& memory = m_activation->memory;
    while (auto chain = queue.pop()) {
        std::vector<std::uint8_t> bytes;
        for (const auto& buffer : chain->readable) {
            const std::uint64_t take =
                std::min<std::uint64_t>(buffer.length, max_stats_bytes - bytes.size());
            auto source = memory.slice(buffer.address, take);
            if (source) bytes.insert(bytes.end(), source->begin(), source->end());
            if (bytes.size() >= max_stats_bytes) break;
        }
        bool malformed = false;
        m_statistics = BalloonStatistics::parse(bytes, malformed);
        if (malformed) ++m_counters.malformed_buffers;
        ++m_counters.stats_updates;
        // A driver that posts a second buffer gets the first back: the device holds one.
        if (m_stats_head) {
            if (queue.push(*m_stats_head, 0) && queue.needs_interrupt())
                m_activation->interrupt.signal_used(queue.index());
        }
        m_stats_head = chain->head;
    }
}

void VirtioBalloon::request_stats_locked() {
    if (!m_activation || !m_stats_head || m_stats_queue == no_queue) return;
    Virtqueue* queue = m_activation->queues.at(m_stats_queue);
    if (queue == nullptr) return;
    const std::uint16_t head = *m_stats_head;
    m_stats_head.reset();
    if (queue->push(head, 0) && queue->needs_interrupt())
        m_activation->interrupt.signal_used(m_stats_queue);
}

void VirtioBalloon::stats_timer() {
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
        // Sleeps the whole interval: an idle VM's balloon wakes once per interval, no sooner.
        const auto interval = std::chrono::seconds(m_stats_interval_s);
        if (m_timer_wake.wait_for(lock, interval, [this] { return m_stopping; })) return;
        request_stats_locked();
    }
}

void VirtioBalloon::set_target_pages(std::uint32_t pages) {
    VirtioInterrupt* interrupt = nullptr;
    {
        std::lock_guard lock(m_mutex);
        m_target_pages = pages;
        if (m_activation) interrupt = &m_activation->interrupt;
    }
    // The transport's interrupt is thread-safe and outlives the activation's reset.
    if (interrupt != nullptr) interrupt->signal_config();
}

std::uint32_t VirtioBalloon::target_pages() const {
    std::lock_guard lock(m_mutex);
    return m_target_pages;
}

std::uint32_t VirtioBalloon::actual_pages() const {
    std::lock_guard lock(m_mutex);
    return m_actual_pages;
}

bool VirtioBalloon::active() const {
    std::lock_guard lock(m_mutex);
    return m_activation.has_value();
}

Result<void> VirtioBalloon::set_stats_interval(std::uint32_t seconds) {
    {
        std::lock_guard lock(m_mutex);
        if ((seconds == 0) != (m_stats_interval_s == 0))
            return make_error("Cannot enable/disable the statistics after boot.");
        m_stats_interval_s = seconds;
    }
    // The timer takes the new interval from its next period on.
    return {};
}

std::uint32_t VirtioBalloon::stats_interval() const {
    std::lock_guard lock(m_mutex);
    return m_stats_interval_s;
}

std::optional<BalloonStatistics> VirtioBalloon::statistics() const {
    std::lock_guard lock(m_mutex);
    return m_statistics;
}

BalloonCounters VirtioBalloon::counters() const {
    std::lock_guard lock(m_mutex);
    return m_counters;
}

} // namespace vessel::virtio
