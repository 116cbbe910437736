// VsockConnection: one vsock stream between the guest and a host Unix socket, with virtio-vsock's
// credit-based flow control (virtio 1.2 §5.10.6.3) in both directions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/unique_fd.hpp"
#include "devices/virtio/vsock/vsock_packet.hpp"

namespace vessel::virtio::vsock {

/// The connection's state machine. Packets from the guest come in through on_guest_packet;
/// packets for the guest go out through next_rx, one at a time, when the device has a receive
/// buffer. The host side is a non-blocking stream socket; the owner calls on_host_readable /
/// on_host_writable when it becomes readable / writable. Nothing here blocks (the owner watches the
/// socket edge-triggered). Any protocol violation by the guest (data beyond its credit, data before
/// the connection is established, a second REQUEST) resets the connection.
class VsockConnection {
  public:
    using Clock = std::chrono::steady_clock;
    /// The receive buffer Vessel advertises per connection (buf_alloc): guest data that the host
    /// socket has not taken yet, at most this much, waits in memory.
    static constexpr std::uint32_t buffer_size = 256 * 1024;
    /// A CREDIT_UPDATE goes out once the host has taken this much since the last fwd_cnt sent.
    static constexpr std::uint32_t credit_update_threshold = 64 * 1024;
    /// How long a host-initiated connection waits for the guest's RESPONSE, and a closing one
    /// for the host socket to take the last data (Firecracker's 2 s).
    static constexpr std::chrono::milliseconds timeout{2000};

    enum class State {
        connecting,  ///< host-initiated: REQUEST queued or sent, RESPONSE awaited
        established, ///< data flows
        closed,      ///< RST sent or received; the owner drops the connection
    };

    /// The guest asked (REQUEST) for a port and the host socket fd is connected to its listener:
    /// answers RESPONSE.
    static VsockConnection from_guest(UniqueFd fd, const PacketHeader& request);
    /// A host client asked for guest port peer_port: sends REQUEST from local_port.
    static VsockConnection from_host(UniqueFd fd, std::uint64_t guest_cid, std::uint32_t local_port,
                                     std::uint32_t peer_port, Clock::time_point now);

    VsockConnection(VsockConnection&&) = default;
    VsockConnection& operator=(VsockConnection&&) = default;

    State state() const { return m_state; }
    int fd() const { return m_fd.get(); }
    std::uint32_t local_port() const { return m_local_port; }
    std::uint32_t peer_port() const { return m_peer_port; }

    /// A checked packet from the guest for this connection (check_guest_packet passed).
    void on_guest_packet(const PacketHeader& header, std::span<const std::uint8_t> payload);
    /// The host socket is readable (or closed): data may go to the guest.
    void on_host_readable() { m_host_readable = true; }
    /// The host socket can take more: flushes buffered guest data.
    void on_host_writable();
    /// Resets the connection if its deadline passed.
    void check_deadline(Clock::time_point now);

    /// Whether next_rx may have a packet (it may still find none: the host socket ran dry).
    bool has_rx() const;
    /// The next packet for the guest, its payload (header.length bytes) put into payload.
    std::optional<PacketHeader> next_rx(std::span<std::uint8_t> payload);
    /// The host client hung up or the socket failed: a connection not yet established ends.
    void on_host_hangup();

    /// Bytes the guest may still send (our buf_alloc minus what waits for the host socket).
    std::uint32_t guest_credit() const;
    /// Bytes the guest can still receive according to its last buf_alloc and fwd_cnt.
    std::uint32_t peer_credit() const;
    /// Guest data waiting for the host socket.
    std::size_t buffered() const { return m_to_host.size(); }

  private:
    VsockConnection(UniqueFd fd, std::uint64_t guest_cid, std::uint32_t local_port,
                    std::uint32_t peer_port, State state);

    PacketHeader make_header(Op op);
    void reset_connection();
    void on_data(std::span<const std::uint8_t> payload);
    void on_shutdown(std::uint32_t flags);
    /// After the guest's shutdown or the host's end: closes once nothing is left to move.
    void finish_if_done();

    UniqueFd m_fd;
    std::uint64_t m_guest_cid;
    std::uint32_t m_local_port; ///< the host side's port (Vessel's)
    std::uint32_t m_peer_port;  ///< the guest side's port
    State m_state;
    std::optional<Clock::time_point> m_deadline;

    // Packets owed to the guest.
    bool m_send_request{false};
    bool m_send_response{false};
    bool m_send_rst{false};
    bool m_send_credit_update{false};
    std::uint32_t m_send_shutdown{0}; ///< flags of a SHUTDOWN to send; 0 for none

    bool m_host_readable{false};
    bool m_host_eof{false};            ///< the host socket ended its data (SHUTDOWN SEND queued)
    std::uint32_t m_guest_shutdown{0}; ///< shutdown flags the guest sent
    bool m_host_write_shut{false};     ///< the host socket's write side is shut (guest's SEND)

    // Guest to host: credit Vessel gives.
    std::vector<std::uint8_t> m_to_host; ///< received from the guest, not yet taken by the host
    std::uint32_t m_fwd_cnt{0};          ///< bytes the host socket took (wrapping)
    std::uint32_t m_last_sent_fwd_cnt{0};

    // Host to guest: credit the guest gives.
    std::uint32_t m_tx_cnt{0}; ///< bytes sent to the guest (wrapping)
    std::uint32_t m_peer_buf_alloc{0};
    std::uint32_t m_peer_fwd_cnt{0};
};

} // namespace vessel::virtio::vsock
