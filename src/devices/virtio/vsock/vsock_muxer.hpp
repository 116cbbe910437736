// VsockMuxer: Firecracker's host side of vsock: a Unix listener for host-initiated streams
// ("CONNECT <port>\n") and `<uds_path>_<port>` sockets for guest-initiated ones.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "devices/virtio/vsock/vsock_connection.hpp"

namespace vessel::virtio::vsock {

/// Owns every vsock connection and the host sockets behind them, all watched by one epoll
/// instance the device's thread waits on. Connection sockets are edge-triggered (the
/// connection remembers readiness until a read or write comes back EAGAIN), so a socket the
/// guest cannot take data from yet never spins the loop. Not thread-safe: one thread (or lock)
/// at a time.
class VsockMuxer {
  public:
    /// Connections at once; a REQUEST or CONNECT beyond it is refused.
    static constexpr std::size_t max_connections = 1024;
    /// The first port Vessel gives a host-initiated connection (as Firecracker, 2^30).
    static constexpr std::uint32_t first_local_port = 1u << 30;
    /// The epoll token of the caller's wake-up descriptor (watch_wake).
    static constexpr std::uint64_t wake_token = 0;

    /// Listens on uds_path (which must not exist; removed again by the destructor).
    static Result<std::unique_ptr<VsockMuxer>> create(std::string uds_path,
                                                      std::uint64_t guest_cid);
    ~VsockMuxer();
    VsockMuxer(const VsockMuxer&) = delete;
    VsockMuxer& operator=(const VsockMuxer&) = delete;

    const std::string& uds_path() const { return m_uds_path; }
    /// Also watches fd (readable) under wake_token, for the caller's own wake-ups.
    Result<void> watch_wake(int fd);
    /// Waits up to timeout_ms for host events; safe without the lock (touches only the epoll
    /// descriptor). Returns the count filled into events.
    int wait(std::span<epoll_event> events, int timeout_ms) const;
    /// Handles events from wait() (stale ones, for descriptors closed since, are ignored).
    void handle(std::span<const epoll_event> events);
    /// Resets connections whose deadlines passed.
    void check_deadlines();

    /// A packet from the guest's tx queue whose header passed check_guest_packet.
    void on_guest_packet(const PacketHeader& header, std::span<const std::uint8_t> payload);
    /// Queues an RST for the guest (answer to a packet that failed the checks).
    void queue_reset(const PacketHeader& reset) { m_resets.push_back(reset); }

    /// Whether next_rx may have a packet for the guest.
    bool has_rx() const;
    /// The next packet for the guest (connections taken in turn), payload in payload.
    std::optional<PacketHeader> next_rx(std::span<std::uint8_t> payload);

    /// The driver reset the device: every connection ends (host sockets closed).
    void reset();
    std::size_t connection_count() const { return m_connections.size(); }

  private:
    /// (local port, peer port): Vessel's side first.
    using Key = std::pair<std::uint32_t, std::uint32_t>;
    /// A host client that has not yet written its whole CONNECT line.
    struct Handshake {
        UniqueFd fd;
        std::string line;
        VsockConnection::Clock::time_point deadline;
    };

    VsockMuxer(std::string uds_path, std::uint64_t guest_cid) noexcept
        : m_uds_path(std::move(uds_path)), m_guest_cid(guest_cid) {}
    Result<void> listen();
    void accept_host_clients();
    void read_handshake(int fd);
    void connect_guest_request(const PacketHeader& request);
    std::optional<std::uint32_t> allocate_local_port() const;
    void add_connection(VsockConnection connection);
    /// Drops the connection once it is closed.
    void refresh(const Key& key);
    void drop_handshake(int fd);

    std::string m_uds_path;
    std::uint64_t m_guest_cid;
    UniqueFd m_epoll;
    UniqueFd m_listener;
    std::map<Key, VsockConnection> m_connections;
    std::map<int, Key> m_connection_by_fd;
    std::map<int, Handshake> m_handshakes;
    std::deque<PacketHeader> m_resets; ///< RSTs for packets that belong to no connection
    Key m_rx_cursor{0, 0};             ///< last connection served, for round-robin
    mutable std::uint32_t m_next_local_port{first_local_port};
};

} // namespace vessel::virtio::vsock
