// NetBackend: where a virtual NIC's Ethernet frames go to and come from on the host.
#include "backends/net/net_backend.hpp"

namespace vessel {

void NetBackend::send(std::span<const std::uint8_t> frame) {
    if (!m_link_up.load() || frame.empty() || frame.size() > max_frame_size) {
        ++m_dropped_frames;
        return;
    }
    transmit(frame);
}

std::optional<EthernetFrame> NetBackend::receive() {
    std::lock_guard lock(m_mutex);
    if (m_received.empty()) return std::nullopt;
    EthernetFrame frame = std::move(m_received.front());
    m_received.pop_front();
    return frame;
}

bool NetBackend::has_received_frames() const {
    std::lock_guard lock(m_mutex);
    return !m_received.empty();
}

void NetBackend::set_receive_notifier(std::function<void()> notifier) {
    std::lock_guard lock(m_notifier_mutex);
    m_notifier = std::move(notifier);
}

void NetBackend::set_link_up(bool up) {
    m_link_up.store(up);
    if (up) return;
    std::lock_guard lock(m_mutex);
    m_received.clear();
}

void NetBackend::deliver(std::span<const std::uint8_t> frame) {
    {
        std::lock_guard lock(m_mutex);
        if (!m_link_up.load() || frame.empty() || frame.size() > max_frame_size ||
            m_received.size() >= max_queued_frames) {
            ++m_dropped_frames;
            return;
        }
        m_received.emplace_back(frame.begin(), frame.end());
    }
    // The queue lock is released so the device may call receive() from inside the notifier.
    std::lock_guard lock(m_notifier_mutex);
    if (m_notifier) m_notifier();
}

} // namespace vessel
