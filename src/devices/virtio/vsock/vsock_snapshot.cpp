// Snapshots of the virtio-vsock device: quiescing its thread, and the transport reset event a
// restored device sends (virtio 1.2 §5.10.6.7), as Firecracker does after a restore.
#include <cstring>

#include "base/log.hpp"
#include "base/state_archive.hpp"
#include "devices/virtio/vsock/virtio_vsock.hpp"

namespace vessel::virtio {

namespace {
/// struct virtio_vsock_event { le32 id; } with VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (§5.10.6.7).
constexpr std::uint32_t transport_reset_event = 0;
constexpr std::uint32_t event_bytes = 4;
} // namespace

void VirtioVsock::quiesce() {
    // The thread touches the rings only with m_mutex held and does nothing while quiesced.
    std::lock_guard lock(m_mutex);
    m_quiesced = true;
    // An rx buffer popped and held for data that had not come yet would be lost to a restored
    // device (the saved ring says it is the device's): hand it back unused (the driver drops a
    // buffer shorter than a header and posts a new one).
    if (m_active && m_held_chain) {
        if (m_active->receive->push(m_held_chain->head, 0) && m_active->receive->needs_interrupt())
            m_active->interrupt->signal_used(vsock::receive_queue);
        m_held_chain.reset();
    }
}

void VirtioVsock::resume_io() {
    {
        std::lock_guard lock(m_mutex);
        m_quiesced = false;
    }
    m_wake.signal();
}

void VirtioVsock::load_device_state(StateReader&) {
    // Host connections are not saved: the guest's sockets must hear that theirs are gone.
    std::lock_guard lock(m_mutex);
    m_reset_event_pending = true;
}

std::string VirtioVsock::migration_obstacle() const {
    return fmt::format("virtio-vsock: its host socket {} would have to move with it (not "
                       "supported; snapshots are)",
                       m_muxer->uds_path());
}

void VirtioVsock::send_reset_event(const Active& active) {
    if (!m_reset_event_pending || active.event == nullptr) return;
    auto chain = active.event->pop();
    if (!chain) return; // no event buffer posted yet: sent once the driver posts one
    std::uint32_t written = 0;
    if (chain->writable_bytes >= event_bytes) {
        std::uint8_t bytes[event_bytes];
        std::memcpy(bytes, &transport_reset_event, sizeof(bytes)); // little-endian host
        // The first writable buffer may be shorter than the event: write across buffers.
        std::uint32_t at = 0;
        for (const VirtqueueBuffer& buffer : chain->writable) {
            if (at == event_bytes) break;
            const std::uint32_t count = static_cast<std::uint32_t>(
                std::min<std::uint64_t>(buffer.length, event_bytes - at));
            if (!active.memory->write_bytes(buffer.address, std::span(bytes + at, count))) break;
            at += count;
        }
        written = at;
    }
    if (active.event->push(chain->head, written) && active.event->needs_interrupt())
        active.interrupt->signal_used(vsock::event_queue);
    if (written == event_bytes) {
        m_reset_event_pending = false;
        ++m_reset_events;
        log::debug("virtio-vsock: transport reset event sent (connections from before the "
                   "snapshot are gone)");
    }
}

} // namespace vessel::virtio
