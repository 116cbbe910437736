// GdbServer: listening socket, the stub thread, and the byte stream to and from the debugger.
#include "gdb/gdb_server.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "base/thread_role.hpp"
#include "gdb/gdb_packet.hpp"
#include "gdb/gdb_session.hpp"
#include "gdb/machine_debug_target.hpp"

namespace vessel::gdb {

namespace {

Result<UniqueFd> listen_tcp(const GdbAddress& address) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(address.port);
    if (int status = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); status != 0)
        return make_error("--gdb {}: host '{}': {}", address.to_string(), address.host,
                          gai_strerror(status));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, freeaddrinfo);
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid())
        return make_error("--gdb {}: socket: {}", address.to_string(), strerror(errno));
    const int on = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0)
        return make_error("--gdb {}: bind: {}", address.to_string(), strerror(errno));
    if (listen(fd.get(), 1) != 0)
        return make_error("--gdb {}: listen: {}", address.to_string(), strerror(errno));
    return fd;
}

Result<UniqueFd> listen_unix(const GdbAddress& address) {
    if (access(address.path.c_str(), F_OK) == 0)
        return make_error("--gdb {}: {} exists (remove it, or pick another path)",
                          address.to_string(), address.path);
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid())
        return make_error("--gdb {}: socket: {}", address.to_string(), strerror(errno));
    sockaddr_un name{};
    name.sun_family = AF_UNIX;
    std::memcpy(name.sun_path, address.path.c_str(), address.path.size() + 1);
    // Sound: sockaddr_un is a sockaddr by the socket API's design.
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&name), sizeof name) != 0)
        return make_error("--gdb {}: bind: {}", address.to_string(), strerror(errno));
    if (listen(fd.get(), 1) != 0)
        return make_error("--gdb {}: listen: {}", address.to_string(), strerror(errno));
    return fd;
}

bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t sent = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

} // namespace

Result<std::unique_ptr<GdbServer>> GdbServer::create(const GdbAddress& address) {
    UniqueFd listener =
        TRY(address.kind == GdbAddress::Kind::Tcp ? listen_tcp(address) : listen_unix(address));
    EventFd wake = TRY(EventFd::create());
    return std::unique_ptr<GdbServer>(new GdbServer(address, std::move(listener), std::move(wake)));
}

GdbServer::~GdbServer() {
    if (m_thread.joinable()) {
        {
            std::lock_guard lock(m_mutex);
            if (!m_exit_status) m_exit_status = 0;
        }
        m_wake.signal();
        m_thread.join();
    }
    if (m_address.kind == GdbAddress::Kind::Unix) unlink(m_address.path.c_str());
}

void GdbServer::start(Machine& machine, bool wait_for_debugger) {
    m_machine = &machine;
    if (wait_for_debugger) machine.start_paused();
    machine.set_debug_stop_listener([this](std::uint32_t vcpu, const DebugEvent& event) {
        {
            std::lock_guard lock(m_mutex);
            m_stops.push_back({vcpu, event});
        }
        m_wake.signal();
    });
    log::info("gdb: listening on {}{}", m_address.to_string(),
              wait_for_debugger ? "; the guest starts when a debugger continues it" : "");
    m_thread = std::thread([this] {
        enter_thread_role(ThreadRole::Gdb);
        serve();
    });
}

void GdbServer::finish(int status) {
    {
        std::lock_guard lock(m_mutex);
        m_exit_status = status;
    }
    m_wake.signal();
    if (m_thread.joinable()) m_thread.join();
    m_machine->set_debug_stop_listener(nullptr);
}

void GdbServer::serve() {
    for (;;) {
        pollfd fds[2] = {{m_listener.get(), POLLIN, 0}, {m_wake.fd(), POLLIN, 0}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
        if (fds[1].revents & POLLIN) {
            m_wake.consume();
            std::lock_guard lock(m_mutex);
            if (m_exit_status) return;
            // Stops with no debugger attached come only from a detached set-up; drop them.
            m_stops.clear();
        }
        if (!(fds[0].revents & POLLIN)) continue;
        UniqueFd client(accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!client.valid()) continue;
        const int on = 1;
        setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        log::info("gdb: debugger attached on {}", m_address.to_string());
        serve_connection(client.get());
        std::lock_guard lock(m_mutex);
        if (m_exit_status) return;
    }
}

void GdbServer::await_acknowledgement(int fd) {
    constexpr int wait_milliseconds = 2000;
    pollfd client{fd, POLLIN, 0};
    while (poll(&client, 1, wait_milliseconds) > 0) {
        char byte = 0;
        if (recv(fd, &byte, 1, 0) != 1 || byte == '+' || byte == '-') return;
    }
}

bool GdbServer::send_packet(int fd, std::string_view payload) {
    m_last_packet = frame_packet(payload);
    return send_all(fd, m_last_packet);
}

void GdbServer::serve_connection(int fd) {
    Machine& machine = *m_machine;
    MachineDebugTarget target(machine);
    GdbSession session(target);
    PacketReader reader;
    // The VM stops while a debugger looks at it (QEMU does the same on attach).
    machine.pause();
    if (!machine.wait_until_parked()) return;
    bool running = false;
    auto take_stops = [&] {
        std::lock_guard lock(m_mutex);
        for (const Stop& stop : m_stops)
            session.note_stop(stop.vcpu, stop.event);
        const bool any = !m_stops.empty();
        m_stops.clear();
        return any;
    };
    auto exit_status = [&]() -> std::optional<int> {
        std::lock_guard lock(m_mutex);
        return m_exit_status;
    };
    for (;;) {
        pollfd fds[2] = {{fd, POLLIN, 0}, {m_wake.fd(), POLLIN, 0}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
        if (fds[1].revents & POLLIN) {
            m_wake.consume();
            if (auto status = exit_status()) {
                send_packet(fd, GdbSession::exit_reply(*status));
                await_acknowledgement(fd); // closing first would fail GDB's ack with EPIPE
                return;
            }
            if (take_stops() && running) {
                machine.pause(); // parks the rest; the stopping vCPU already paused the VM
                if (!machine.wait_until_parked()) continue; // the VM ends: finish() follows
                std::string stop = session.take_stop_reply();
                if (stop.empty()) {
                    auto action = session.handle("c"); // every stop went stale: run on
                    running = action.kind == SessionAction::Kind::Resume;
                    if (!running) send_packet(fd, action.reply);
                } else {
                    running = false;
                    send_packet(fd, stop);
                }
            }
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        std::uint8_t buffer[4096];
        const ssize_t got = recv(fd, buffer, sizeof buffer, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            log::info("gdb: debugger went away; the guest runs on");
            if (running) {
                machine.pause();
                if (!machine.wait_until_parked()) return;
            }
            session.handle("D");
            return;
        }
        for (Incoming& incoming : reader.feed(std::span(buffer, static_cast<std::size_t>(got)))) {
            switch (incoming.kind) {
            case Incoming::Kind::Ack:
                break;
            case Incoming::Kind::Nack:
                if (!m_last_packet.empty()) send_all(fd, m_last_packet);
                break;
            case Incoming::Kind::BadChecksum:
            case Incoming::Kind::Overlong:
                send_all(fd, "-");
                break;
            case Incoming::Kind::Interrupt:
                if (!running) break;
                machine.pause();
                if (!machine.wait_until_parked()) break;
                take_stops();
                session.note_interrupt();
                running = false;
                send_packet(fd, session.take_stop_reply());
                break;
            case Incoming::Kind::Packet: {
                send_all(fd, "+");
                if (running) break; // all-stop: only Ctrl-C is meaningful while running
                take_stops();
                SessionAction action = session.handle(incoming.payload);
                switch (action.kind) {
                case SessionAction::Kind::Reply:
                    if (!send_packet(fd, action.reply)) return;
                    break;
                case SessionAction::Kind::Resume:
                    running = true;
                    break;
                case SessionAction::Kind::Detach:
                    send_packet(fd, action.reply);
                    log::info("gdb: debugger detached; the guest runs on");
                    return;
                case SessionAction::Kind::Kill:
                    if (!action.reply.empty()) send_packet(fd, action.reply);
                    log::info("gdb: the debugger killed the VM");
                    machine.request_exit({ExitRequest::Kind::UserQuit, exit_status::clean,
                                          "killed by the debugger"});
                    return;
                }
                break;
            }
            }
        }
    }
}

} // namespace vessel::gdb
