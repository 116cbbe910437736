// VirtioNet: the virtio network device (virtio 1.2 §5.1) on top of a host NetBackend.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "backends/net/mac_address.hpp"
#include "backends/net/net_backend.hpp"
#include "devices/virtio/virtio_device.hpp"
#include "devices/virtio/virtqueue.hpp"

namespace vessel::virtio {

/// Feature bits, config layout and header of virtio-net (virtio 1.2 §5.1.3, §5.1.4, §5.1.6).
namespace net {
constexpr std::uint64_t feature_mac = std::uint64_t{1} << 5;        ///< VIRTIO_NET_F_MAC
constexpr std::uint64_t feature_status = std::uint64_t{1} << 16;    ///< VIRTIO_NET_F_STATUS
constexpr std::uint64_t feature_mrg_rxbuf = std::uint64_t{1} << 15; ///< VIRTIO_NET_F_MRG_RXBUF
constexpr std::uint16_t status_link_up = 1;         ///< VIRTIO_NET_S_LINK_UP (§5.1.4)
constexpr std::uint32_t config_mac = 0;             ///< u8 mac[6]
constexpr std::uint32_t config_status = 6;          ///< le16 status
constexpr std::uint32_t config_max_queue_pairs = 8; ///< le16 max_virtqueue_pairs
constexpr std::uint32_t config_bytes = 10;
/// struct virtio_net_hdr with num_buffers (§5.1.6): 12 bytes once VERSION_1 is negotiated, 10
/// for a legacy driver without MRG_RXBUF.
constexpr std::uint32_t header_bytes = 12;
constexpr std::uint32_t legacy_header_bytes = 10;
constexpr std::uint32_t header_num_buffers = 10; ///< le16 num_buffers
constexpr std::uint16_t receive_queue = 0;       ///< receiveq1 (§5.1.2)
constexpr std::uint16_t transmit_queue = 1;      ///< transmitq1
constexpr std::uint16_t queue_size = 256;
constexpr std::uint32_t pci_class_ethernet = 0x02'00'00; ///< network controller, Ethernet
} // namespace net

/// One NIC with a receive and a transmit queue and no offloads. Transmit runs on the vCPU
/// thread that notifies; receive runs on the back-end's thread when frames arrive and on the vCPU
/// thread when the driver adds receive buffers. Frames wait in the back-end's bounded queue
/// while the guest has no receive buffers. Every guest buffer comes from the validated Virtqueue
/// and is accessed through GuestMemory's checked accessors.
class VirtioNet final : public VirtioDevice {
  public:
    VirtioNet(std::unique_ptr<NetBackend> backend, MacAddress mac);
    ~VirtioNet() override;

    std::string_view name() const override { return "virtio-net"; }
    std::uint16_t device_type() const override { return 1; } // §5.1.1
    std::uint32_t pci_class_code() const override { return net::pci_class_ethernet; }
    std::uint64_t features() const override { return net::feature_mac | net::feature_status; }
    std::uint16_t queue_count() const override { return 2; }
    std::uint16_t queue_max_size(std::uint16_t) const override { return net::queue_size; }
    std::uint32_t config_size() const override { return net::config_bytes; }
    void read_config(std::uint32_t offset, std::span<std::uint8_t> data) override;
    void write_config(std::uint32_t offset, std::span<const std::uint8_t> data) override;
    Result<void> activate(const VirtioActivation& activation) override;
    void queue_notify(std::uint16_t index) override;
    void reset() override;
    /// Stops taking received frames (they wait in the back-end's queue) until resume_io().
    void quiesce() override;
    void resume_io() override;

    /// Plugs or unplugs the virtual cable; the driver gets a configuration-change interrupt.
    void set_link_up(bool up);
    bool link_up() const { return m_backend->link_up(); }
    const MacAddress& mac() const { return m_mac; }
    NetBackend& backend() { return *m_backend; }

  private:
    struct Active {
        GuestMemory* memory;
        Virtqueue* receive;
        Virtqueue* transmit;
        VirtioInterrupt* interrupt;
        std::uint32_t header_bytes;
    };

    void transmit_frames();
    void receive_frames();
    /// Gathers a transmit chain's frame (after the header); empty when the chain is unusable.
    EthernetFrame gather_frame(const Active& active, const DescriptorChain& chain);
    /// Writes header + frame into a receive chain; returns bytes written, 0 if it did not fit.
    std::uint32_t scatter_frame(const Active& active, const DescriptorChain& chain,
                                const EthernetFrame& frame);

    std::unique_ptr<NetBackend> m_backend;
    const MacAddress m_mac;
    // m_active changes only with both mutexes held, so either one keeps it stable.
    std::mutex m_receive_mutex;  ///< serializes receive_frames
    std::mutex m_transmit_mutex; ///< serializes transmit_frames
    std::optional<Active> m_active;
    std::atomic<std::uint64_t> m_oversized_frames{0};
};

} // namespace vessel::virtio
