// HttpServer: socket set-up, the poll loop, and per-connection buffering.
#include "api/http_server.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "base/log.hpp"

namespace vessel::api {

namespace {
constexpr std::size_t receive_chunk = 4096;
// Clients connecting at once (tools polling the socket) wait in the kernel's queue rather than
// being refused: the largest queue the host allows (net.core.somaxconn caps it).
constexpr int listen_backlog = SOMAXCONN;
constexpr int idle_check_milliseconds = 1000;
// After answering a broken request, input is read and dropped (up to this much) until the
// client closes: closing a Unix socket with unread data resets the peer, which could then
// miss the answer.
constexpr std::size_t max_discard = 1 << 20;
} // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::bind(const std::string& path, Handler handler) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(address.sun_path))
        return make_error("API socket '{}': path must be 1 to {} bytes", path,
                          sizeof(address.sun_path) - 1);
    std::memcpy(address.sun_path, path.data(), path.size());
    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listener.valid()) return make_error("API socket '{}': socket: {}", path, strerror(errno));
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
        return make_error("API socket '{}': bind: {}", path, strerror(errno));
    std::unique_ptr<HttpServer> server(new HttpServer(path, std::move(handler)));
    server->m_listener = std::move(listener); // from here on the destructor unlinks the path
    if (::listen(server->m_listener.get(), listen_backlog) != 0)
        return make_error("API socket '{}': listen: {}", path, strerror(errno));
    rlimit descriptors{};
    if (::getrlimit(RLIMIT_NOFILE, &descriptors) == 0)
        server->m_descriptor_limit = descriptors.rlim_cur;
    server->m_stop_event = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!server->m_stop_event.valid())
        return make_error("API socket '{}': eventfd: {}", path, strerror(errno));
    return server;
}

HttpServer::~HttpServer() {
    m_connections.clear();
    if (m_listener.valid()) ::unlink(m_path.c_str());
}

void HttpServer::stop() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(m_stop_event.get(), &one, sizeof(one));
}

void HttpServer::serve() {
    std::vector<pollfd> fds;
    while (true) {
        fds.clear();
        fds.push_back({m_stop_event.get(), POLLIN, 0});
        // Not while accepting is paused by a descriptor shortage (poll ignores a negative fd).
        if (m_accept_paused_until && std::chrono::steady_clock::now() >= *m_accept_paused_until)
            m_accept_paused_until.reset();
        fds.push_back({m_accept_paused_until ? -1 : m_listener.get(), POLLIN, 0});
        for (auto& connection : m_connections) {
            // Read the next request only once the previous answer is out (back-pressure).
            short events = connection->outgoing.empty() ? POLLIN : POLLOUT;
            fds.push_back({connection->fd.get(), events, 0});
        }
        const int timeout_ms = poll_timeout(m_connections.empty() ? -1 : idle_check_milliseconds);
        if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
            if (errno == EINTR) continue;
            log::error("API server: poll: {}", strerror(errno));
            return;
        }
        if (fds[0].revents) {
            flush_before_stop();
            return;
        }
        // Service existing clients first: indexes in fds match m_connections before accept.
        for (std::size_t index = 0; index < m_connections.size(); ++index) {
            short revents = fds[index + 2].revents;
            Connection& connection = *m_connections[index];
            bool keep = true;
            auto now = std::chrono::steady_clock::now();
            if (revents) connection.last_active = now;
            if (revents & (POLLIN | POLLHUP | POLLERR)) keep = receive(connection);
            if (keep && (revents & POLLOUT)) keep = send_pending(connection);
            // Answers out: the pipelined requests held back for them are answered now.
            if (keep && (revents & POLLOUT) && connection.outgoing.empty() && !connection.closing &&
                connection.parser.buffered() > 0)
                keep = answer(connection);
            if (keep) keep = within_deadlines(connection, now);
            if (!keep) connection.fd.reset();
        }
        std::erase_if(m_connections,
                      [](const auto& connection) { return !connection->fd.valid(); });
        if (fds[1].revents & POLLIN) accept_clients();
    }
}

void HttpServer::flush_before_stop() {
    const auto deadline = std::chrono::steady_clock::now() + stop_flush_timeout;
    std::vector<pollfd> fds;
    while (true) {
        std::erase_if(m_connections, [](const auto& connection) {
            return !connection->fd.valid() || connection->outgoing.empty();
        });
        if (m_connections.empty()) return;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            log::warn("API: {} answer(s) not written out when the server stopped",
                      m_connections.size());
            return;
        }
        fds.clear();
        for (auto& connection : m_connections)
            fds.push_back({connection->fd.get(), POLLOUT, 0});
        if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR)
            return;
        for (std::size_t index = 0; index < m_connections.size(); ++index)
            if (fds[index].revents != 0 && !send_pending(*m_connections[index]))
                m_connections[index]->fd.reset();
    }
}

void HttpServer::accept_clients() {
    // Every client waiting is taken now, not one per wake-up. A connection accepted here has
    // not been read yet, so it is never the one evicted for the next: when the table is full
    // of them, the rest wait in the listen queue until the next wake-up.
    std::size_t accepted = 0;
    while (accepted < max_connections) {
        UniqueFd client(
            ::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!client.valid()) {
            if (errno == EINTR || errno == ECONNABORTED) continue; // that client gave up
            // Any other failure (EMFILE, ENFILE, ENOBUFS...) may leave the listening socket
            // readable with the client still queued: poll would return at once, forever.
            if (errno != EAGAIN && errno != EWOULDBLOCK) pause_accepting(errno);
            return;
        }
        if (m_descriptor_shortage) {
            log::info("API: accepting clients again");
            m_descriptor_shortage = false;
        }
        if (m_connections.size() >= max_connections) evict_one(m_connections.size() - accepted);
        auto connection = std::make_unique<Connection>();
        connection->fd = std::move(client);
        m_connections.push_back(std::move(connection));
        ++accepted;
    }
}

void HttpServer::pause_accepting(int error) {
    // The client stays in the listen queue (it is not refused): it is accepted once the
    // shortage ends, unless it gives up first.
    m_accept_paused_until = std::chrono::steady_clock::now() + descriptor_shortage_pause;
    if (m_descriptor_shortage) return; // this shortage was reported already
    m_descriptor_shortage = true;
    std::string which;
    if (error == EMFILE) {
        which = fmt::format(": every descriptor of this process's limit is in use (RLIMIT_NOFILE "
                            "was {} when the API socket was bound)",
                            m_descriptor_limit);
    } else if (error == ENFILE) {
        which = ": the system's limit of open files (fs.file-max) is reached";
    }
    log::warn("API: cannot accept a client: {}{}; {} API connections open; clients wait in the "
              "listen queue, retried every {} ms",
              strerror(error), which, m_connections.size(), descriptor_shortage_pause.count());
}

int HttpServer::poll_timeout(int idle) const {
    if (!m_accept_paused_until) return idle;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        *m_accept_paused_until - std::chrono::steady_clock::now());
    const int resume = static_cast<int>(std::max<std::int64_t>(left.count(), 0));
    return idle < 0 ? resume : std::min(idle, resume);
}

bool HttpServer::within_deadlines(Connection& connection,
                                  std::chrono::steady_clock::time_point now) {
    if (connection.closing) return now - connection.started <= close_linger;
    if (connection.parser.buffered() == 0) return now - connection.last_active <= idle_timeout;
    if (now - connection.started <= request_timeout) return true;
    log::warn("API: a request was not received whole within {} s; closing its connection",
              request_timeout.count());
    connection.outgoing += HttpResponse::fault(408, fmt::format("request not received whole "
                                                                "within {} s",
                                                                request_timeout.count()))
                               .serialize();
    start_closing(connection);
    return send_pending(connection);
}

void HttpServer::start_closing(Connection& connection) {
    connection.closing = true;
    connection.started = std::chrono::steady_clock::now();
}

void HttpServer::evict_one(std::size_t candidates) {
    // Idle keep-alive connections first (longest silent), then closing ones, then the request
    // that has been arriving longest: a well-behaved client sends its request at once.
    auto rank = [](const Connection& connection) {
        const bool mid_request = !connection.closing && connection.parser.buffered() > 0;
        const int kind = mid_request ? 2 : connection.closing ? 1 : 0;
        return std::pair(kind, mid_request ? connection.started : connection.last_active);
    };
    const auto end = m_connections.begin() + static_cast<std::ptrdiff_t>(candidates);
    auto victim = std::min_element(m_connections.begin(), end, [&](const auto& a, const auto& b) {
        auto ra = rank(*a), rb = rank(*b);
        if (ra.first != rb.first) return ra.first < rb.first;
        return ra.second < rb.second;
    });
    Connection& connection = **victim;
    const bool mid_request = !connection.closing && connection.parser.buffered() > 0;
    report_eviction(mid_request);
    if (mid_request) {
        // Its client gets an answer saying why, not a bare close (best effort: one send).
        connection.outgoing += HttpResponse::fault(503, fmt::format("the API server has {} "
                                                                    "connections open, its "
                                                                    "limit; this request was "
                                                                    "the slowest to arrive and "
                                                                    "is dropped: retry",
                                                                    max_connections))
                                   .serialize();
        start_closing(connection);
        send_pending(connection);
    }
    m_connections.erase(victim);
}

void HttpServer::report_eviction(bool mid_request) {
    // One warning per eviction_report_interval at most: a flood of clients floods no log.
    ++m_evictions;
    const auto now = std::chrono::steady_clock::now();
    if (m_evictions > 1 && now - m_last_eviction_report < eviction_report_interval) {
        log::debug("API: {} connections open: closed the {} to make room", max_connections,
                   mid_request ? "slowest request" : "longest-idle connection");
        return;
    }
    log::warn("API: {} connections open (the limit): closing the {} to make room for a new "
              "client ({} closed so far)",
              max_connections, mid_request ? "slowest request" : "longest-idle connection",
              m_evictions);
    m_last_eviction_report = now;
}

bool HttpServer::receive(Connection& connection) {
    char buffer[receive_chunk];
    ssize_t count = ::recv(connection.fd.get(), buffer, sizeof(buffer), 0);
    if (count < 0) return errno == EAGAIN || errno == EINTR;
    if (count == 0) return false; // the client closed; nothing half-received is answered
    if (connection.closing) {
        connection.discarded += static_cast<std::size_t>(count);
        return connection.discarded < max_discard;
    }
    const std::size_t before = connection.parser.buffered();
    if (before == 0) connection.started = std::chrono::steady_clock::now();
    connection.parser.append(std::string_view(buffer, static_cast<std::size_t>(count)));
    const bool held_back = process(connection);
    // A request was consumed and the next one has begun: its clock starts now.
    const std::size_t after = connection.parser.buffered();
    if (after > 0 && after < before + static_cast<std::size_t>(count))
        connection.started = std::chrono::steady_clock::now();
    if (!send_pending(connection)) return false;
    return held_back && connection.outgoing.empty() ? answer(connection) : true;
}

bool HttpServer::answer(Connection& connection) {
    while (true) {
        const bool held_back = process(connection);
        if (!send_pending(connection)) return false;
        if (!held_back || !connection.outgoing.empty()) return true;
    }
}

bool HttpServer::process(Connection& connection) {
    while (!connection.closing) {
        if (connection.outgoing.size() >= max_pending_output) return true;
        HttpParser::Outcome outcome = connection.parser.next();
        if (connection.parser.take_continue_request())
            connection.outgoing += "HTTP/1.1 100 Continue\r\n\r\n";
        if (outcome.kind == HttpParser::Outcome::Kind::NeedMore) return false;
        HttpResponse response;
        if (outcome.kind == HttpParser::Outcome::Kind::Error) {
            log::warn("API: bad HTTP request: {}", outcome.message);
            response = HttpResponse::fault(outcome.status, outcome.message);
            response.close = true;
        } else {
            response = m_handler(outcome.request);
            response.close = response.close || !outcome.request.keep_alive;
        }
        connection.outgoing += response.serialize();
        if (response.close) start_closing(connection);
    }
    return false;
}

// Returns false when the connection is finished (closed after its last answer, or broken).
bool HttpServer::send_pending(Connection& connection) {
    while (!connection.outgoing.empty()) {
        ssize_t count = ::send(connection.fd.get(), connection.outgoing.data(),
                               connection.outgoing.size(), MSG_NOSIGNAL);
        if (count < 0) return errno == EAGAIN || errno == EINTR;
        connection.outgoing.erase(0, static_cast<std::size_t>(count));
    }
    // Last answer out: signal end of stream and wait for the client's close in receive().
    if (connection.closing) ::shutdown(connection.fd.get(), SHUT_WR);
    return true;
}

} // namespace vessel::api
