// VsockMuxer: Unix-socket host side of virtio-vsock, as Firecracker's (docs/vsock.md there).
#include "devices/virtio/vsock/vsock_muxer.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "base/log.hpp"

namespace vessel::virtio::vsock {

namespace {
// epoll tokens: the kind in the high half, the descriptor in the low half.
constexpr std::uint64_t kind_listener = 1;
constexpr std::uint64_t kind_handshake = 2;
constexpr std::uint64_t kind_connection = 3;
/// "CONNECT 4294967295\n" is 19 bytes; anything longer is not a CONNECT line.
constexpr std::size_t max_handshake_line = 32;

std::uint64_t token(std::uint64_t kind, int fd) {
    return kind << 32 | static_cast<std::uint32_t>(fd);
}

Result<sockaddr_un> unix_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(address.sun_path))
        return make_error("vsock socket path '{}': must be 1 to {} bytes long", path,
                          sizeof(address.sun_path) - 1);
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

/// Parses "CONNECT <port>" (without the newline); the port is decimal.
std::optional<std::uint32_t> parse_connect(std::string_view line) {
    constexpr std::string_view prefix = "CONNECT ";
    if (!line.starts_with(prefix)) return std::nullopt;
    line.remove_prefix(prefix.size());
    std::uint32_t port = 0;
    auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), port);
    if (error != std::errc{} || end != line.data() + line.size() || line.empty())
        return std::nullopt;
    return port;
}
} // namespace

Result<std::unique_ptr<VsockMuxer>> VsockMuxer::create(std::string uds_path,
                                                       std::uint64_t guest_cid) {
    std::unique_ptr<VsockMuxer> muxer(new VsockMuxer(std::move(uds_path), guest_cid));
    muxer->m_epoll = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    if (!muxer->m_epoll.valid()) return make_error("vsock: epoll_create1: {}", strerror(errno));
    TRY(muxer->listen());
    return muxer;
}

VsockMuxer::~VsockMuxer() {
    if (m_listener.valid()) ::unlink(m_uds_path.c_str());
}

Result<void> VsockMuxer::listen() {
    const sockaddr_un address = TRY(unix_address(m_uds_path));
    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listener.valid()) return make_error("vsock socket {}: {}", m_uds_path, strerror(errno));
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
        return make_error("vsock socket {}: cannot bind: {}", m_uds_path, strerror(errno));
    if (::listen(listener.get(), 128) != 0) {
        const int error = errno;
        ::unlink(m_uds_path.c_str());
        return make_error("vsock socket {}: cannot listen: {}", m_uds_path, strerror(error));
    }
    m_listener = std::move(listener);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = token(kind_listener, m_listener.get());
    if (epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_listener.get(), &event) != 0)
        return make_error("vsock socket {}: epoll_ctl: {}", m_uds_path, strerror(errno));
    return {};
}

Result<void> VsockMuxer::watch_wake(int fd) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = wake_token;
    if (epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, fd, &event) != 0)
        return make_error("vsock: epoll_ctl on the wake-up descriptor: {}", strerror(errno));
    return {};
}

int VsockMuxer::wait(std::span<epoll_event> events, int timeout_ms) const {
    const int count =
        epoll_wait(m_epoll.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
    return count < 0 ? 0 : count;
}

void VsockMuxer::handle(std::span<const epoll_event> events) {
    for (const epoll_event& event : events) {
        const std::uint64_t kind = event.data.u64 >> 32;
        const int fd = static_cast<int>(event.data.u64 & 0xffff'ffff);
        if (kind == kind_listener) {
            accept_host_clients();
        } else if (kind == kind_handshake) {
            if (m_handshakes.contains(fd)) read_handshake(fd);
        } else if (kind == kind_connection) {
            auto found = m_connection_by_fd.find(fd);
            if (found == m_connection_by_fd.end()) continue;
            const Key key = found->second;
            VsockConnection& connection = m_connections.at(key);
            if ((event.events & (EPOLLHUP | EPOLLERR)) != 0) connection.on_host_hangup();
            if ((event.events & (EPOLLIN | EPOLLRDHUP)) != 0) connection.on_host_readable();
            if ((event.events & EPOLLOUT) != 0) connection.on_host_writable();
            refresh(key);
        }
    }
}

void VsockMuxer::accept_host_clients() {
    while (true) {
        UniqueFd client(
            ::accept4(m_listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!client.valid()) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log::warn("vsock socket {}: accept: {}", m_uds_path, strerror(errno));
            return;
        }
        if (m_connections.size() + m_handshakes.size() >= max_connections) {
            log::warn("vsock socket {}: {} connections open; refusing another", m_uds_path,
                      max_connections);
            continue;
        }
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = token(kind_handshake, client.get());
        if (epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, client.get(), &event) != 0) continue;
        const int fd = client.get();
        m_handshakes.emplace(fd,
                             Handshake{std::move(client),
                                       {},
                                       VsockConnection::Clock::now() + VsockConnection::timeout});
    }
}

void VsockMuxer::drop_handshake(int fd) {
    epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
    m_handshakes.erase(fd);
}

// One byte at a time, so nothing after the newline (the client's first data) is taken here.
void VsockMuxer::read_handshake(int fd) {
    Handshake& handshake = m_handshakes.at(fd);
    while (true) {
        char byte = 0;
        const ssize_t got = ::recv(fd, &byte, 1, MSG_DONTWAIT);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return drop_handshake(fd);
        if (byte != '\n') {
            handshake.line.push_back(byte);
            if (handshake.line.size() > max_handshake_line) return drop_handshake(fd);
            continue;
        }
        const std::optional<std::uint32_t> port = parse_connect(handshake.line);
        const std::optional<std::uint32_t> local_port = allocate_local_port();
        if (!port || !local_port) {
            log::debug("vsock socket {}: bad or unserviceable handshake '{}'", m_uds_path,
                       handshake.line);
            return drop_handshake(fd);
        }
        UniqueFd client = std::move(handshake.fd);
        epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
        m_handshakes.erase(fd);
        add_connection(VsockConnection::from_host(std::move(client), m_guest_cid, *local_port,
                                                  *port, VsockConnection::Clock::now()));
        return;
    }
}

std::optional<std::uint32_t> VsockMuxer::allocate_local_port() const {
    for (std::size_t tries = 0; tries < max_connections * 2; ++tries) {
        const std::uint32_t port = m_next_local_port;
        m_next_local_port = port == UINT32_MAX ? first_local_port : port + 1;
        bool used = false;
        for (const auto& entry : m_connections)
            used |= entry.first.first == port;
        if (!used) return port;
    }
    return std::nullopt;
}

void VsockMuxer::add_connection(VsockConnection connection) {
    const Key key{connection.local_port(), connection.peer_port()};
    const int fd = connection.fd();
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.u64 = token(kind_connection, fd);
    if (epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
        log::warn("vsock: epoll_ctl for a connection: {}", strerror(errno));
        return;
    }
    m_connection_by_fd[fd] = key;
    m_connections.emplace(key, std::move(connection));
}

void VsockMuxer::refresh(const Key& key) {
    auto found = m_connections.find(key);
    if (found == m_connections.end() || found->second.state() != VsockConnection::State::closed)
        return;
    const int fd = found->second.fd();
    epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
    m_connection_by_fd.erase(fd);
    m_connections.erase(found); // closes the host socket
}

void VsockMuxer::check_deadlines() {
    const auto now = VsockConnection::Clock::now();
    for (auto& [key, connection] : m_connections)
        connection.check_deadline(now);
    for (auto it = m_handshakes.begin(); it != m_handshakes.end();) {
        const int fd = (it++)->first;
        if (now >= m_handshakes.at(fd).deadline) drop_handshake(fd);
    }
}

void VsockMuxer::on_guest_packet(const PacketHeader& header,
                                 std::span<const std::uint8_t> payload) {
    const Key key{header.dst_port, header.src_port};
    auto found = m_connections.find(key);
    if (found != m_connections.end()) {
        found->second.on_guest_packet(header, payload);
        return refresh(key);
    }
    if (header.operation() == Op::request) return connect_guest_request(header);
    // A packet for no connection (a stale one the host already dropped): RST, except an RST.
    if (header.operation() != Op::rst) queue_reset(reset_reply(header));
}

void VsockMuxer::connect_guest_request(const PacketHeader& request) {
    const std::string path = m_uds_path + "_" + std::to_string(request.dst_port);
    auto refuse = [&](std::string_view why) {
        log::debug("vsock: guest port {} -> host port {} ({}): {}", request.src_port,
                   request.dst_port, path, why);
        queue_reset(reset_reply(request));
    };
    if (m_connections.size() + m_handshakes.size() >= max_connections)
        return refuse("too many connections");
    auto address = unix_address(path);
    if (!address) return refuse(address.error().message);
    UniqueFd host_socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!host_socket.valid()) return refuse(strerror(errno));
    // A Unix stream connect completes at once or fails (EAGAIN: the listener's backlog is full).
    if (::connect(host_socket.get(), reinterpret_cast<const sockaddr*>(&*address),
                  sizeof(*address)) != 0)
        return refuse(strerror(errno));
    add_connection(VsockConnection::from_guest(std::move(host_socket), request));
}

bool VsockMuxer::has_rx() const {
    if (!m_resets.empty()) return true;
    for (const auto& entry : m_connections)
        if (entry.second.has_rx()) return true;
    return false;
}

std::optional<PacketHeader> VsockMuxer::next_rx(std::span<std::uint8_t> payload) {
    if (!m_resets.empty()) {
        PacketHeader reset = m_resets.front();
        m_resets.pop_front();
        return reset;
    }
    // Round-robin: start after the connection served last, so one busy stream cannot starve
    // the others.
    auto start = m_connections.upper_bound(m_rx_cursor);
    for (std::size_t step = 0; step < m_connections.size(); ++step) {
        if (start == m_connections.end()) start = m_connections.begin();
        const Key key = start->first;
        VsockConnection& connection = start->second;
        ++start;
        if (!connection.has_rx()) continue;
        std::optional<PacketHeader> packet = connection.next_rx(payload);
        m_rx_cursor = key;
        refresh(key); // may erase the connection (start already moved past it)
        if (packet) return packet;
    }
    return std::nullopt;
}

void VsockMuxer::reset() {
    for (auto& entry : m_connections)
        epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, entry.second.fd(), nullptr);
    m_connections.clear();
    m_connection_by_fd.clear();
    m_resets.clear();
}

} // namespace vessel::virtio::vsock
