// VsockConnection: the per-stream state machine and credit accounting (virtio 1.2 §5.10.6.3).
#include "devices/virtio/vsock/vsock_connection.hpp"

#include <sys/socket.h>

#include <utility>

#include <algorithm>
#include <cerrno>
#include <string>

#include "base/log.hpp"

namespace vessel::virtio::vsock {

VsockConnection::VsockConnection(UniqueFd fd, std::uint64_t guest_cid, std::uint32_t local_port,
                                 std::uint32_t peer_port, State state)
    : m_fd(std::move(fd)), m_guest_cid(guest_cid), m_local_port(local_port), m_peer_port(peer_port),
      m_state(state) {}

VsockConnection VsockConnection::from_guest(UniqueFd fd, const PacketHeader& request) {
    VsockConnection connection(std::move(fd), request.src_cid, request.dst_port, request.src_port,
                               State::established);
    connection.m_peer_buf_alloc = request.buf_alloc;
    connection.m_peer_fwd_cnt = request.fwd_cnt;
    connection.m_send_response = true;
    return connection;
}

VsockConnection VsockConnection::from_host(UniqueFd fd, std::uint64_t guest_cid,
                                           std::uint32_t local_port, std::uint32_t peer_port,
                                           Clock::time_point now) {
    VsockConnection connection(std::move(fd), guest_cid, local_port, peer_port, State::connecting);
    connection.m_send_request = true;
    connection.m_deadline = now + timeout;
    return connection;
}

std::uint32_t VsockConnection::guest_credit() const {
    return buffer_size - static_cast<std::uint32_t>(m_to_host.size());
}

std::uint32_t VsockConnection::peer_credit() const {
    // Unsigned wrap-around is the spec's arithmetic; a guest whose fwd_cnt runs ahead of what
    // it was sent gets no credit from it rather than a huge one.
    const std::uint32_t in_flight = m_tx_cnt - m_peer_fwd_cnt;
    return in_flight >= m_peer_buf_alloc ? 0 : m_peer_buf_alloc - in_flight;
}

void VsockConnection::reset_connection() {
    if (m_state == State::closed) return;
    m_send_rst = true;
    m_send_request = m_send_response = m_send_credit_update = false;
    m_send_shutdown = 0;
    m_to_host.clear();
    m_deadline.reset();
}

void VsockConnection::on_guest_packet(const PacketHeader& header,
                                      std::span<const std::uint8_t> payload) {
    if (m_state == State::closed || m_send_rst) return;
    m_peer_buf_alloc = header.buf_alloc;
    m_peer_fwd_cnt = header.fwd_cnt;
    switch (header.operation()) {
    case Op::rst:
        m_state = State::closed;
        m_send_rst = false;
        return;
    case Op::response: {
        if (m_state != State::connecting) return reset_connection();
        m_state = State::established;
        m_deadline.reset();
        // Firecracker's handshake answer to the host client; a fresh socket takes 16 bytes.
        const std::string reply = "OK " + std::to_string(m_local_port) + "\n";
        const ssize_t sent =
            ::send(m_fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent != static_cast<ssize_t>(reply.size())) reset_connection();
        return;
    }
    case Op::rw:
        if (m_state != State::established || (m_guest_shutdown & shutdown_send) != 0)
            return reset_connection();
        return on_data(payload);
    case Op::credit_request:
        m_send_credit_update = true;
        return;
    case Op::credit_update:
        return; // the new credit is recorded above
    case Op::shutdown:
        return on_shutdown(header.flags & (shutdown_receive | shutdown_send));
    case Op::request:
        return reset_connection(); // a second REQUEST for a live connection
    }
}

void VsockConnection::on_data(std::span<const std::uint8_t> payload) {
    if (payload.size() > guest_credit()) {
        log::debug("vsock: guest port {} sent {} bytes beyond its credit of {}: reset", m_peer_port,
                   payload.size(), guest_credit());
        return reset_connection();
    }
    m_to_host.insert(m_to_host.end(), payload.begin(), payload.end());
    on_host_writable();
}

void VsockConnection::on_shutdown(std::uint32_t flags) {
    m_guest_shutdown |= flags;
    finish_if_done();
}

void VsockConnection::on_host_writable() {
    if (m_state != State::established || m_send_rst) return;
    std::size_t done = 0;
    while (done < m_to_host.size()) {
        const ssize_t sent = ::send(m_fd.get(), m_to_host.data() + done, m_to_host.size() - done,
                                    MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            done += static_cast<std::size_t>(sent);
            continue;
        }
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return reset_connection(); // the host end is gone (EPIPE, ECONNRESET)
    }
    m_to_host.erase(m_to_host.begin(), m_to_host.begin() + static_cast<std::ptrdiff_t>(done));
    m_fwd_cnt += static_cast<std::uint32_t>(done);
    if (m_fwd_cnt - m_last_sent_fwd_cnt >= credit_update_threshold) m_send_credit_update = true;
    finish_if_done();
}

void VsockConnection::finish_if_done() {
    if (m_state != State::established || m_send_rst || !m_to_host.empty()) {
        // Data still waits for the host: give it until the deadline once the guest is done.
        if ((m_guest_shutdown & shutdown_send) != 0 && !m_deadline)
            m_deadline = Clock::now() + timeout;
        return;
    }
    // Once: every shutdown() wakes the socket's waiters, which re-arms its edge-triggered
    // events and would bring us back here.
    if ((m_guest_shutdown & shutdown_send) != 0 && !m_host_write_shut) {
        ::shutdown(m_fd.get(), SHUT_WR);
        m_host_write_shut = true;
    }
    // The guest closed its socket (both directions): Firecracker ends such a stream with RST,
    // which Linux waits for before it frees its socket. A guest that only stopped sending may
    // still be reading what the host sent, so that alone ends nothing.
    if (m_guest_shutdown == (shutdown_send | shutdown_receive)) reset_connection();
}

void VsockConnection::check_deadline(Clock::time_point now) {
    if (m_deadline && now >= *m_deadline) {
        log::debug("vsock: connection {} <-> guest port {} timed out: reset", m_local_port,
                   m_peer_port);
        reset_connection();
    }
}

bool VsockConnection::has_rx() const {
    if (m_state == State::closed) return false;
    if (m_send_rst || m_send_request || m_send_response || m_send_shutdown != 0 ||
        m_send_credit_update)
        return true;
    return m_state == State::established && m_host_readable && !m_host_eof &&
           (m_guest_shutdown & shutdown_receive) == 0 && peer_credit() > 0;
}

PacketHeader VsockConnection::make_header(Op op) {
    PacketHeader header;
    header.src_cid = host_cid;
    header.dst_cid = m_guest_cid;
    header.src_port = m_local_port;
    header.dst_port = m_peer_port;
    header.op = static_cast<std::uint16_t>(op);
    header.buf_alloc = buffer_size;
    header.fwd_cnt = m_fwd_cnt;
    // Every packet tells the guest our fwd_cnt, so none of them needs a separate update.
    m_last_sent_fwd_cnt = m_fwd_cnt;
    m_send_credit_update = false;
    return header;
}

std::optional<PacketHeader> VsockConnection::next_rx(std::span<std::uint8_t> payload) {
    if (m_state == State::closed) return std::nullopt;
    if (m_send_rst) {
        m_state = State::closed;
        m_send_rst = false;
        return make_header(Op::rst);
    }
    if (m_send_request) {
        m_send_request = false;
        return make_header(Op::request);
    }
    if (m_send_response) {
        m_send_response = false;
        return make_header(Op::response);
    }
    if (m_state == State::established && m_host_readable && !m_host_eof &&
        (m_guest_shutdown & shutdown_receive) == 0 && peer_credit() > 0 && !payload.empty()) {
        const std::size_t room = std::min<std::size_t>(
            {payload.size(), std::size_t{peer_credit()}, std::size_t{max_payload}});
        const ssize_t got = ::recv(m_fd.get(), payload.data(), room, MSG_DONTWAIT);
        if (got > 0) {
            m_tx_cnt += static_cast<std::uint32_t>(got);
            PacketHeader header = make_header(Op::rw);
            header.length = static_cast<std::uint32_t>(got);
            return header;
        }
        if (got == 0) {
            // The host client ended its side: the guest reads end of file, may still write.
            m_host_eof = true;
            m_send_shutdown |= shutdown_send;
            finish_if_done();
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            reset_connection();
            return next_rx(payload);
        } else {
            m_host_readable = false;
        }
    }
    if (m_send_rst) return next_rx(payload);
    if (m_send_shutdown != 0) {
        PacketHeader header = make_header(Op::shutdown);
        header.flags = std::exchange(m_send_shutdown, 0);
        return header;
    }
    if (m_send_credit_update) return make_header(Op::credit_update);
    return std::nullopt;
}

void VsockConnection::on_host_hangup() {
    if (m_state == State::connecting) return reset_connection();
    m_host_readable = true; // the read finds the end of file or the error
    on_host_writable();     // and a write the broken pipe
}

} // namespace vessel::virtio::vsock
