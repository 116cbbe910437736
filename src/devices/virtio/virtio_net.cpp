// VirtioNet: the virtio network device (virtio 1.2 §5.1) on top of a host NetBackend.
#include "devices/virtio/virtio_net.hpp"

#include <algorithm>

#include "base/log.hpp"
#include "devices/virtio/virtqueue.hpp"

namespace vessel::virtio {

VirtioNet::VirtioNet(std::unique_ptr<NetBackend> backend, MacAddress mac)
    : m_backend(std::move(backend)), m_mac(mac) {}

VirtioNet::~VirtioNet() {
    m_backend->set_receive_notifier({});
}

void VirtioNet::read_config(std::uint32_t offset, std::span<std::uint8_t> data) {
    std::array<std::uint8_t, net::config_bytes> config{};
    std::copy(m_mac.bytes.begin(), m_mac.bytes.end(), config.begin() + net::config_mac);
    const std::uint16_t status = link_up() ? net::status_link_up : 0;
    config[net::config_status] = static_cast<std::uint8_t>(status);
    config[net::config_status + 1] = static_cast<std::uint8_t>(status >> 8);
    config[net::config_max_queue_pairs] = 1;
    for (std::size_t index = 0; index < data.size(); ++index)
        data[index] = offset + index < config.size() ? config[offset + index] : 0;
}

// The MAC is read-only once VERSION_1 is negotiated (§5.1.4.2), and so is the rest.
void VirtioNet::write_config(std::uint32_t, std::span<const std::uint8_t>) {}

Result<void> VirtioNet::activate(const VirtioActivation& activation) {
    if (activation.queues.size() != queue_count() ||
        activation.queues[net::receive_queue] == nullptr ||
        activation.queues[net::transmit_queue] == nullptr)
        return make_error("virtio-net: the driver enabled fewer than the two queues");
    const bool modern_header =
        (activation.features & (feature::version_1 | net::feature_mrg_rxbuf)) != 0;
    {
        std::scoped_lock lock(m_receive_mutex, m_transmit_mutex);
        m_active = Active{&activation.memory, activation.queues[net::receive_queue],
                          activation.queues[net::transmit_queue], &activation.interrupt,
                          modern_header ? net::header_bytes : net::legacy_header_bytes};
    }
    m_backend->set_receive_notifier([this] { receive_frames(); });
    receive_frames(); // frames that arrived before the driver was ready
    return {};
}

void VirtioNet::reset() {
    // Unregistering waits for a notifier in progress, so the back-end thread is out after this.
    m_backend->set_receive_notifier({});
    std::scoped_lock lock(m_receive_mutex, m_transmit_mutex);
    m_active.reset();
}

void VirtioNet::queue_notify(std::uint16_t index) {
    if (index == net::transmit_queue) transmit_frames();
    if (index == net::receive_queue) receive_frames();
}

void VirtioNet::set_link_up(bool up) {
    if (up == link_up()) return;
    m_backend->set_link_up(up);
    log::info("virtio-net {}: link {}", m_mac.to_string(), up ? "up" : "down");
    std::lock_guard lock(m_receive_mutex);
    if (m_active) m_active->interrupt->signal_config();
}

void VirtioNet::transmit_frames() {
    std::lock_guard lock(m_transmit_mutex);
    if (!m_active) return;
    const Active& active = *m_active;
    bool used = false;
    while (auto chain = active.transmit->pop()) {
        const EthernetFrame frame = gather_frame(active, *chain);
        if (!frame.empty()) m_backend->send(frame);
        // The transmit buffers are only read: nothing written (§5.1.6.2).
        if (!active.transmit->push(chain->head, 0)) break;
        used = true;
    }
    if (used && active.transmit->needs_interrupt())
        active.interrupt->signal_used(net::transmit_queue);
}

void VirtioNet::receive_frames() {
    std::lock_guard lock(m_receive_mutex);
    if (!m_active) return;
    const Active& active = *m_active;
    bool used = false;
    // A chain is popped only when a frame is waiting, so no guest buffer is held back.
    while (m_backend->has_received_frames()) {
        auto chain = active.receive->pop();
        if (!chain) break; // no buffers: the frame waits in the back-end's queue
        const std::optional<EthernetFrame> frame = m_backend->receive();
        const std::uint32_t written = frame ? scatter_frame(active, *chain, *frame) : 0;
        if (!active.receive->push(chain->head, written)) break;
        used = true;
    }
    if (used && active.receive->needs_interrupt())
        active.interrupt->signal_used(net::receive_queue);
}

EthernetFrame VirtioNet::gather_frame(const Active& active, const DescriptorChain& chain) {
    if (chain.readable_bytes <= active.header_bytes ||
        chain.readable_bytes - active.header_bytes > NetBackend::max_frame_size) {
        if (chain.readable_bytes > active.header_bytes && m_oversized_frames++ == 0)
            log::warn("virtio-net: dropping a {}-byte transmit chain (larger than a frame)",
                      chain.readable_bytes);
        return {};
    }
    EthernetFrame packet(chain.readable_bytes);
    std::size_t at = 0;
    for (const VirtqueueBuffer& buffer : chain.readable) {
        std::span<std::uint8_t> part(packet.data() + at, buffer.length);
        if (!active.memory->read_bytes(buffer.address, part)) return {};
        at += buffer.length;
    }
    // The header asks for no offload we offered (none), so it carries nothing to act on.
    packet.erase(packet.begin(), packet.begin() + active.header_bytes);
    return packet;
}

std::uint32_t VirtioNet::scatter_frame(const Active& active, const DescriptorChain& chain,
                                       const EthernetFrame& frame) {
    const std::uint64_t total = std::uint64_t{active.header_bytes} + frame.size();
    if (chain.writable_bytes < total) return 0;           // too small for this frame: dropped
    std::array<std::uint8_t, net::header_bytes> header{}; // no checksum or GSO offload (§5.1.6)
    header[net::header_num_buffers] = 1;
    const std::span<const std::uint8_t> header_bytes(header.data(), active.header_bytes);
    std::uint64_t at = 0; // position in header + frame
    for (const VirtqueueBuffer& buffer : chain.writable) {
        std::uint64_t done = 0;
        while (done < buffer.length && at < total) {
            const bool in_header = at < header_bytes.size();
            const std::span<const std::uint8_t> source =
                in_header ? header_bytes.subspan(at)
                          : std::span<const std::uint8_t>(frame).subspan(at - header_bytes.size());
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
