// VirtioVsock: moves vsock packets between the virtqueues and the host side on its own thread.
#include "devices/virtio/vsock/virtio_vsock.hpp"

#include <pthread.h>
#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <utility>

#include "base/log.hpp"
#include "base/thread_role.hpp"

namespace vessel::virtio {

namespace {
/// Rounds of tx + rx work before the lock is let go (a reset waits at most this long).
constexpr int max_rounds = 64;
/// How often the thread wakes without events, for connection deadlines.
constexpr int idle_wait_ms = 250;
} // namespace

Result<std::unique_ptr<VirtioVsock>> VirtioVsock::create(std::uint64_t guest_cid,
                                                         std::string uds_path) {
    if (guest_cid < vsock::min_guest_cid || guest_cid > UINT32_MAX)
        return make_error("vsock: guest CID {} is reserved or too large (3 to {})", guest_cid,
                          UINT32_MAX);
    auto muxer = TRY(vsock::VsockMuxer::create(std::move(uds_path), guest_cid));
    std::unique_ptr<VirtioVsock> device(new VirtioVsock(guest_cid, std::move(muxer)));
    device->m_wake = TRY(EventFd::create());
    TRY(device->m_muxer->watch_wake(device->m_wake.fd()));
    device->m_thread = std::thread([raw = device.get()] {
        enter_thread_role(ThreadRole::Vsock);
        raw->run();
    });
    ::pthread_setname_np(device->m_thread.native_handle(), "vessel-vsock");
    return device;
}

VirtioVsock::VirtioVsock(std::uint64_t guest_cid, std::unique_ptr<vsock::VsockMuxer> muxer)
    : m_guest_cid(guest_cid), m_muxer(std::move(muxer)), m_payload(vsock::max_payload) {}

VirtioVsock::~VirtioVsock() {
    m_stopping.store(true);
    m_wake.signal();
    if (m_thread.joinable()) m_thread.join();
}

void VirtioVsock::read_config(std::uint32_t offset, std::span<std::uint8_t> data) {
    // struct virtio_vsock_config { le64 guest_cid; } (§5.10.4)
    for (std::size_t index = 0; index < data.size(); ++index) {
        const std::uint64_t at = offset + index;
        data[index] =
            at < vsock::config_bytes ? static_cast<std::uint8_t>(m_guest_cid >> (8 * at)) : 0;
    }
}

Result<void> VirtioVsock::activate(const VirtioActivation& activation) {
    if (activation.queues.size() != queue_count() ||
        activation.queues[vsock::receive_queue] == nullptr ||
        activation.queues[vsock::transmit_queue] == nullptr)
        return make_error("virtio-vsock: the driver did not enable the rx and tx queues");
    {
        std::lock_guard lock(m_mutex);
        m_active = Active{&activation.memory, activation.queues[vsock::receive_queue],
                          activation.queues[vsock::transmit_queue], &activation.interrupt,
                          activation.queues[vsock::event_queue]};
    }
    m_wake.signal();
    return {};
}

void VirtioVsock::reset() {
    // The thread touches the queues and guest memory only with m_mutex held: after this it
    // cannot reach them until the next activate.
    std::lock_guard lock(m_mutex);
    m_active.reset();
    m_held_chain.reset();
    m_muxer->reset();
}

// The event queue carries only transport resets (after a restore): a driver posting event
// buffers may be what a pending one waits for.
void VirtioVsock::queue_notify(std::uint16_t index) {
    if (index < vsock::queue_count) m_wake.signal();
}

void VirtioVsock::run() {
    std::array<epoll_event, 64> events{};
    int timeout = idle_wait_ms;
    while (!m_stopping.load()) {
        const int count = m_muxer->wait(events, timeout);
        m_wake.consume();
        std::lock_guard lock(m_mutex);
        m_muxer->handle(std::span(events.data(), static_cast<std::size_t>(count)));
        m_muxer->check_deadlines();
        process();
        timeout = idle_wait_ms;
    }
}

void VirtioVsock::process() {
    if (!m_active || m_quiesced) return;
    const Active active = *m_active;
    send_reset_event(active);
    for (int round = 0; round < max_rounds; ++round) {
        const bool transmitted = process_transmit(active);
        const bool received = process_receive(active);
        if (!transmitted && !received) return;
    }
    m_wake.signal(); // more work waits: come back after letting a reset in
}

bool VirtioVsock::process_transmit(const Active& active) {
    bool used = false;
    while (auto chain = active.transmit->pop()) {
        transmit_chain(active, *chain);
        if (!active.transmit->push(chain->head, 0)) break; // tx buffers are only read
        used = true;
    }
    if (used && active.transmit->needs_interrupt())
        active.interrupt->signal_used(vsock::transmit_queue);
    return used;
}

void VirtioVsock::transmit_chain(const Active& active, const DescriptorChain& chain) {
    if (chain.readable_bytes < vsock::header_bytes) return; // no header to answer: dropped
    // Gather the header, then as much payload as the header claims and the chain holds (at most
    // max_payload: longer claims fail the check below).
    std::array<std::uint8_t, vsock::header_bytes> header_bytes{};
    const std::uint64_t wanted_total =
        std::min<std::uint64_t>(chain.readable_bytes, vsock::header_bytes + vsock::max_payload);
    std::uint64_t at = 0;
    for (const VirtqueueBuffer& buffer : chain.readable) {
        if (at >= wanted_total) break;
        const std::uint64_t count = std::min<std::uint64_t>(buffer.length, wanted_total - at);
        for (std::uint64_t done = 0; done < count;) {
            const std::uint64_t position = at + done;
            std::span<std::uint8_t> target;
            if (position < vsock::header_bytes)
                target = std::span(header_bytes).subspan(position);
            else
                target = std::span(m_payload).subspan(position - vsock::header_bytes);
            const std::uint64_t piece = std::min<std::uint64_t>(target.size(), count - done);
            if (!active.memory->read_bytes(buffer.address + done, target.first(piece))) return;
            done += piece;
        }
        at += count;
    }
    const vsock::PacketHeader header = vsock::decode_header(header_bytes);
    const std::uint64_t payload_available = chain.readable_bytes - vsock::header_bytes;
    if (auto checked = vsock::check_guest_packet(header, payload_available, m_guest_cid);
        !checked) {
        if (m_refused_packets++ == 0) log::warn("virtio-vsock: {}: reset", checked.error().message);
        if (header.operation() != vsock::Op::rst) m_muxer->queue_reset(vsock::reset_reply(header));
        return;
    }
    m_muxer->on_guest_packet(header, std::span(m_payload).first(header.length));
}

bool VirtioVsock::process_receive(const Active& active) {
    bool used = false;
    while (m_muxer->has_rx()) {
        std::optional<DescriptorChain> chain = std::exchange(m_held_chain, std::nullopt);
        if (!chain) chain = active.receive->pop();
        if (!chain) break; // no buffers: the packets wait (in the muxer and the host sockets)
        if (chain->writable_bytes < vsock::header_bytes) {
            if (!active.receive->push(chain->head, 0)) break; // cannot hold a header: unused
            used = true;
            continue;
        }
        const std::uint64_t room = std::min<std::uint64_t>(
            chain->writable_bytes - vsock::header_bytes, vsock::max_payload);
        std::optional<vsock::PacketHeader> header =
            m_muxer->next_rx(std::span(m_payload).first(room));
        if (!header) {
            m_held_chain = std::move(chain);
            break;
        }
        const std::uint32_t written = fill_chain(active, *chain, *header);
        if (!active.receive->push(chain->head, written)) break;
        used = true;
    }
    if (used && active.receive->needs_interrupt())
        active.interrupt->signal_used(vsock::receive_queue);
    return used;
}

std::uint32_t VirtioVsock::fill_chain(const Active& active, const DescriptorChain& chain,
                                      const vsock::PacketHeader& header) {
    const vsock::HeaderBytes header_bytes = vsock::encode_header(header);
    const std::uint64_t total = std::uint64_t{vsock::header_bytes} + header.length;
    std::uint64_t at = 0;
    for (const VirtqueueBuffer& buffer : chain.writable) {
        std::uint64_t done = 0;
        while (done < buffer.length && at < total) {
            const std::span<const std::uint8_t> source =
                at < vsock::header_bytes ? std::span<const std::uint8_t>(header_bytes).subspan(at)
                                         : std::span<const std::uint8_t>(m_payload).subspan(
                                               at - vsock::header_bytes, total - at);
            const std::uint64_t count =
                std::min<std::uint64_t>(source.size(), buffer.length - done);
            if (!active.memory->write_bytes(buffer.address + done, source.first(count))) return 0;
            done += count;
            at += count;
        }
        if (at == total) break;
    }
    return static_cast<std::uint32_t>(total);
}

} // namespace vessel::virtio
