// VirtioVsock: the virtio socket device (virtio 1.2 §5.10) with Firecracker's Unix-socket host
// side.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/event_fd.hpp"
#include "devices/virtio/virtio_device.hpp"
#include "devices/virtio/virtqueue.hpp"
#include "devices/virtio/vsock/vsock_muxer.hpp"

namespace vessel::virtio {

/// A vsock device for guest CID guest_cid. All its work runs on its own thread
/// (`vessel-vsock`): queue notifies from a vCPU only wake that thread, which moves packets
/// between the rings and the VsockMuxer's host sockets, so no vCPU ever waits on a host socket.
/// Bad packets from the driver (wrong CIDs, unknown ops, oversized lengths, credit violations)
/// are answered with RST; a malformed ring breaks the queue as on any virtio device.
class VirtioVsock final : public VirtioDevice {
  public:
    /// Listens on uds_path (which must not exist) and starts the device's thread.
    static Result<std::unique_ptr<VirtioVsock>> create(std::uint64_t guest_cid,
                                                       std::string uds_path);
    ~VirtioVsock() override;

    std::string_view name() const override { return "virtio-vsock"; }
    std::uint16_t device_type() const override { return vsock::device_type; }
    std::uint64_t features() const override { return 0; } // stream only: no SEQPACKET
    std::uint16_t queue_count() const override { return vsock::queue_count; }
    std::uint16_t queue_max_size(std::uint16_t) const override { return vsock::queue_size; }
    std::uint32_t config_size() const override { return vsock::config_bytes; }
    void read_config(std::uint32_t offset, std::span<std::uint8_t> data) override;
    void write_config(std::uint32_t, std::span<const std::uint8_t>) override {} // read-only
    Result<void> activate(const VirtioActivation& activation) override;
    void queue_notify(std::uint16_t index) override;
    void reset() override;
    // Snapshots (vsock_snapshot.cpp), as Firecracker does them: the rings are saved, host
    // connections are not; a restored device tells the driver with a transport reset event
    // (virtio 1.2 §5.10.6.7), so the guest's sockets see a reset and new connections work.
    /// Stops the device thread from touching the rings and hands back the rx buffer it held.
    void quiesce() override;
    void resume_io() override;
    /// Nothing is saved beyond the transport's state; loading arms the transport reset event.
    void load_device_state(StateReader& reader) override;
    /// The host socket stays with this Vessel: a destination on the same host could not bind it.
    std::string migration_obstacle() const override;
    /// Transport reset events written to the event queue (for tests and logs).
    std::uint64_t reset_events() const { return m_reset_events.load(); }

    std::uint64_t guest_cid() const { return m_guest_cid; }
    /// Packets refused with RST so far (for tests and logs).
    std::uint64_t refused_packets() const { return m_refused_packets.load(); }

  private:
    struct Active {
        GuestMemory* memory;
        Virtqueue* receive;
        Virtqueue* transmit;
        VirtioInterrupt* interrupt;
        Virtqueue* event; ///< null when the driver did not enable it
    };

    VirtioVsock(std::uint64_t guest_cid, std::unique_ptr<vsock::VsockMuxer> muxer);
    void run();
    /// One round of work with m_mutex held: guest packets out, host data in.
    void process();
    bool process_transmit(const Active& active);
    bool process_receive(const Active& active);
    /// Handles one tx chain: checks its header, hands it to the muxer or answers RST.
    void transmit_chain(const Active& active, const DescriptorChain& chain);
    /// Writes header + payload into an rx chain; returns the bytes written.
    std::uint32_t fill_chain(const Active& active, const DescriptorChain& chain,
                             const vsock::PacketHeader& header);
    /// Writes a pending transport reset event when the driver has posted an event buffer.
    void send_reset_event(const Active& active);

    const std::uint64_t m_guest_cid;
    std::unique_ptr<vsock::VsockMuxer> m_muxer;
    EventFd m_wake;
    std::mutex m_mutex; ///< m_active, m_muxer state, m_held_chain
    std::optional<Active> m_active;
    /// An rx chain popped when the host socket then had nothing: used for the next packet.
    std::optional<DescriptorChain> m_held_chain;
    std::vector<std::uint8_t> m_payload; ///< staging for one packet's payload
    std::atomic<bool> m_stopping{false};
    std::atomic<std::uint64_t> m_refused_packets{0};
    bool m_quiesced{false};            ///< a snapshot is being taken: the rings are left alone
    bool m_reset_event_pending{false}; ///< restored: the driver must hear of the lost connections
    std::atomic<std::uint64_t> m_reset_events{0};
    std::thread m_thread;
};

} // namespace vessel::virtio
