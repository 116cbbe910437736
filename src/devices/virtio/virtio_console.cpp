// VirtioConsole: host input into receiveq0, transmitq0 to the console output.
#include "devices/virtio/virtio_console.hpp"

#include <algorithm>
#include <array>

#include "devices/virtio/virtqueue.hpp"

namespace vessel::virtio {

namespace {
constexpr std::uint32_t max_ports_offset = 4; ///< §5.3.4 max_nr_ports (valid with MULTIPORT)
} // namespace

void VirtioConsole::read_config(std::uint32_t offset, std::span<std::uint8_t> data) {
    // cols and rows stay 0 (no VIRTIO_CONSOLE_F_SIZE); one port; emerg_wr reads as 0.
    std::array<std::uint8_t, config_bytes> config{};
    config[max_ports_offset] = 1;
    std::fill(data.begin(), data.end(), 0);
    if (offset >= config.size()) return;
    const std::size_t count = std::min<std::size_t>(data.size(), config.size() - offset);
    std::copy_n(config.begin() + offset, count, data.begin());
}

Result<void> VirtioConsole::activate(const VirtioActivation& activation) {
    std::lock_guard lock(m_mutex);
    m_activation.emplace(activation);
    // Output the guest queued before DRIVER_OK, input typed before the driver came up.
    drain_output_locked();
    deliver_input_locked();
    return {};
}

void VirtioConsole::reset() {
    std::lock_guard lock(m_mutex);
    m_activation.reset(); // pending host input stays for the next activation
}

void VirtioConsole::queue_notify(std::uint16_t index) {
    std::lock_guard lock(m_mutex);
    if (index == transmit_queue) drain_output_locked();
    if (index == receive_queue) deliver_input_locked();
}

std::size_t VirtioConsole::enqueue_input(std::span<const std::uint8_t> bytes) {
    std::lock_guard lock(m_mutex);
    const std::size_t room = max_pending_input - m_pending_input.size();
    const std::size_t accepted = std::min(room, bytes.size());
    m_pending_input.insert(m_pending_input.end(), bytes.begin(),
                           bytes.begin() + static_cast<std::ptrdiff_t>(accepted));
    deliver_input_locked();
    return accepted;
}

void VirtioConsole::deliver_input_locked() {
    if (!m_activation || m_activation->queues.at(receive_queue) == nullptr) return;
    Virtqueue& queue = *m_activation->queues[receive_queue];
    GuestMemory& memory = m_activation->memory;
    bool pushed = false;
    // Pop only with input in hand: a popped buffer cannot be handed back to the driver.
    while (!m_pending_input.empty()) {
        auto chain = queue.pop();
        if (!chain) break;
        std::uint32_t written = 0;
        for (const auto& buffer : chain->writable) {
            if (m_pending_input.empty()) break;
            auto target = memory.slice(buffer.address, buffer.length);
            if (!target) break; // cannot happen: the virtqueue checked every buffer
            const std::size_t count = std::min(target->size(), m_pending_input.size());
            std::copy_n(m_pending_input.begin(), count, target->begin());
            m_pending_input.erase(m_pending_input.begin(),
                                  m_pending_input.begin() + static_cast<std::ptrdiff_t>(count));
            memory.mark_written(buffer.address, count);
            written += static_cast<std::uint32_t>(count);
        }
        pushed |= queue.push(chain->head, written);
    }
    if (pushed && queue.needs_interrupt()) m_activation->interrupt.signal_used(receive_queue);
}

void VirtioConsole::drain_output_locked() {
    if (!m_activation || m_activation->queues.at(transmit_queue) == nullptr) return;
    Virtqueue& queue = *m_activation->queues[transmit_queue];
    GuestMemory& memory = m_activation->memory;
    bool pushed = false;
    while (auto chain = queue.pop()) {
        for (const auto& buffer : chain->readable) {
            auto source = memory.slice(buffer.address, buffer.length);
            if (!source) break; // cannot happen: the virtqueue checked every buffer
            if (!source->empty()) m_output(*source);
        }
        pushed |= queue.push(chain->head, 0); // the device wrote nothing (§5.3.6.1)
    }
    if (pushed && queue.needs_interrupt()) m_activation->interrupt.signal_used(transmit_queue);
}

} // namespace vessel::virtio
