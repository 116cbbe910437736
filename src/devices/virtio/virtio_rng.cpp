// VirtioRng: fills posted buffers from getrandom(2).
#include "devices/virtio/virtio_rng.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>

#include "base/log.hpp"
#include "devices/virtio/virtqueue.hpp"

namespace vessel::virtio {

namespace {
/// Fills data from the host's entropy pool; returns the bytes written.
std::size_t fill_random(std::span<std::uint8_t> data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t got = getrandom(data.data() + done, data.size() - done, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            log::warn("virtio-rng: getrandom failed: errno {}", errno);
            break;
        }
        done += static_cast<std::size_t>(got);
    }
    return done;
}
} // namespace

void VirtioRng::read_config(std::uint32_t, std::span<std::uint8_t> data) {
    std::fill(data.begin(), data.end(), 0);
}

Result<void> VirtioRng::activate(const VirtioActivation& activation) {
    m_activation.emplace(activation);
    return {};
}

void VirtioRng::reset() {
    m_activation.reset();
}

void VirtioRng::queue_notify(std::uint16_t index) {
    if (!m_activation || index != 0 || m_activation->queues.at(0) == nullptr) return;
    Virtqueue& queue = *m_activation->queues[0];
    GuestMemory& memory = m_activation->memory;
    bool pushed = false;
    while (auto chain = queue.pop()) {
        std::uint64_t written = 0;
        for (const auto& buffer : chain->writable) {
            auto target = memory.slice(buffer.address, buffer.length);
            if (!target) break; // cannot happen: the virtqueue checked every buffer
            const std::size_t filled = fill_random(*target);
            memory.mark_written(buffer.address, filled);
            written += filled;
            if (filled < buffer.length) break;
        }
        pushed |= queue.push(
            chain->head, static_cast<std::uint32_t>(std::min<std::uint64_t>(written, UINT32_MAX)));
    }
    if (pushed && queue.needs_interrupt()) m_activation->interrupt.signal_used(0);
}

} // namespace vessel::virtio
