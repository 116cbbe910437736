// SlirpBackend: user-mode networking through libslirp (no root, no host setup), as QEMU's -net
// user.
#include "backends/net/slirp_backend.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <ctime>

#include "base/log.hpp"
#include "base/thread_role.hpp"

namespace vessel {

namespace {

constexpr std::uint32_t slirp_config_version = 4; // timer_new_opaque needs version 4
constexpr const char* network_address = "10.0.2.0";
constexpr const char* network_mask = "255.255.255.0";
constexpr const char* host_address = "10.0.2.2";
constexpr const char* dns_address = "10.0.2.3";
constexpr const char* dhcp_start_address = "10.0.2.15";
/// What libslirp is asked for at each turn, and the most it ever answers (slirp.c,
/// slirp_update_timeout): an answer of exactly this means nothing in it is timed.
constexpr std::uint32_t slirp_timeout_cap_ms = 1000;

in_addr ipv4(const char* text) {
    in_addr address{};
    ::inet_pton(AF_INET, text, &address);
    return address;
}

std::int64_t monotonic_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

short to_poll_events(int slirp_events) {
    short events = 0;
    if (slirp_events & SLIRP_POLL_IN) events |= POLLIN;
    if (slirp_events & SLIRP_POLL_OUT) events |= POLLOUT;
    if (slirp_events & SLIRP_POLL_PRI) events |= POLLPRI;
    if (slirp_events & SLIRP_POLL_ERR) events |= POLLERR;
    if (slirp_events & SLIRP_POLL_HUP) events |= POLLHUP;
    return events;
}

int to_slirp_events(short poll_events) {
    int events = 0;
    if (poll_events & POLLIN) events |= SLIRP_POLL_IN;
    if (poll_events & POLLOUT) events |= SLIRP_POLL_OUT;
    if (poll_events & POLLPRI) events |= SLIRP_POLL_PRI;
    if (poll_events & (POLLERR | POLLNVAL)) events |= SLIRP_POLL_ERR;
    if (poll_events & POLLHUP) events |= SLIRP_POLL_HUP;
    return events;
}

} // namespace

/// A libslirp timer: slirp_handle_timer(id, callback_opaque) is due at expire_ms (-1: idle).
struct SlirpBackend::Timer {
    SlirpTimerId id;
    void* callback_opaque;
    std::int64_t expire_ms{-1};
};

Result<std::unique_ptr<SlirpBackend>> SlirpBackend::create(const SlirpOptions& options) {
    std::unique_ptr<SlirpBackend> backend(new SlirpBackend());
    backend->m_wake = TRY_CONTEXT(EventFd::create(), "user network");
    backend->m_quiet_after_ms = options.quiet_after.count();
    backend->m_last_activity_ms = monotonic_ns() / 1'000'000;

    SlirpConfig config{};
    config.version = slirp_config_version;
    config.restricted = options.restricted ? 1 : 0;
    config.in_enabled = true;
    config.vnetwork = ipv4(network_address);
    config.vnetmask = ipv4(network_mask);
    config.vhost = ipv4(host_address);
    config.vdhcp_start = ipv4(dhcp_start_address);
    config.vnameserver = ipv4(dns_address);
    config.vhostname = "vessel";
    config.in6_enabled = false;

    static const SlirpCb callbacks = {
        .send_packet = send_packet,
        .guest_error = guest_error,
        .clock_get_ns = clock_get_ns,
        .timer_new = nullptr,
        .timer_free = timer_free,
        .timer_mod = timer_mod,
        .register_poll_fd = register_poll_fd,
        .unregister_poll_fd = unregister_poll_fd,
        .notify = notify,
        .init_completed = nullptr,
        .timer_new_opaque = timer_new_opaque,
    };
    backend->m_slirp = slirp_new(&config, &callbacks, backend.get());
    if (backend->m_slirp == nullptr) return make_error("user network: libslirp failed to start");
    for (const HostForward& forward : options.host_forwards)
        TRY_CONTEXT(backend->add_host_forward(forward), "user network");

    // The thread starts last: until then this thread alone touched the slirp state.
    backend->m_thread = std::thread([raw = backend.get()] {
        enter_thread_role(ThreadRole::Net);
        raw->run();
    });
    log::debug("user network: libslirp {} on 10.0.2.0/24", slirp_version_string());
    return backend;
}

SlirpBackend::~SlirpBackend() {
    m_stopping.store(true);
    if (m_thread.joinable()) {
        m_wake.signal();
        m_thread.join();
    }
    if (m_slirp != nullptr) slirp_cleanup(m_slirp);
}

Result<void> SlirpBackend::add_host_forward(const HostForward& forward) {
    const in_addr guest = forward.guest_address.s_addr == INADDR_ANY ? ipv4(dhcp_start_address)
                                                                     : forward.guest_address;
    const bool udp = forward.protocol == HostForward::Protocol::udp;
    if (slirp_add_hostfwd(m_slirp, udp ? 1 : 0, forward.host_address, forward.host_port, guest,
                          forward.guest_port) < 0)
        return make_error("hostfwd '{}': cannot listen on the host port (in use or not allowed?)",
                          forward.to_string());
    log::debug("user network: forwarding {}", forward.to_string());
    return {};
}

void SlirpBackend::transmit(std::span<const std::uint8_t> frame) {
    {
        std::lock_guard lock(m_outgoing_mutex);
        m_outgoing.emplace_back(frame.begin(), frame.end());
    }
    m_wake.signal();
}

void SlirpBackend::run() {
    while (!m_stopping.load()) {
        m_poll_fds.clear();
        m_poll_fds.push_back(pollfd{.fd = m_wake.fd(), .events = POLLIN, .revents = 0});
        std::uint32_t slirp_timeout_ms = slirp_timeout_cap_ms;
        slirp_pollfds_fill(m_slirp, &slirp_timeout_ms, add_poll, this);
        const int ready =
            ::poll(m_poll_fds.data(), m_poll_fds.size(), poll_timeout_ms(slirp_timeout_ms));
        m_loop_turns.fetch_add(1, std::memory_order_relaxed);
        if (ready > 0 && std::any_of(m_poll_fds.begin() + 1, m_poll_fds.end(),
                                     [](const pollfd& fd) { return fd.revents != 0; }))
            note_activity(); // a host socket spoke
        slirp_pollfds_poll(m_slirp, ready < 0 ? 1 : 0, get_revents, this);
        if (m_poll_fds[0].revents & POLLIN) m_wake.consume();
        input_pending_frames();
        fire_expired_timers();
    }
}

int SlirpBackend::poll_timeout_ms(std::uint32_t slirp_timeout_ms,
                                  std::optional<std::int64_t> next_timer_ms, std::int64_t now_ms,
                                  std::int64_t last_activity_ms, std::int64_t quiet_after_ms) {
    std::int64_t timeout = std::min<std::int64_t>(slirp_timeout_ms, slirp_timeout_cap_ms);
    if (next_timer_ms)
        return static_cast<int>(
            std::clamp<std::int64_t>(std::min(timeout, *next_timer_ms - now_ms), 0, timeout));
    const bool slirp_idle = slirp_timeout_ms >= slirp_timeout_cap_ms;
    const std::int64_t quiet_for = now_ms - last_activity_ms;
    if (slirp_idle && quiet_for >= quiet_after_ms) return -1; // until a frame or a socket event
    // Not quiet long enough yet: poll again when it will be.
    if (slirp_idle) timeout = std::min(timeout, quiet_after_ms - quiet_for);
    return static_cast<int>(std::max<std::int64_t>(timeout, 0));
}

int SlirpBackend::poll_timeout_ms(std::uint32_t slirp_timeout_ms) const {
    std::optional<std::int64_t> next_timer;
    for (const auto& timer : m_timers)
        if (timer->expire_ms >= 0)
            next_timer = next_timer ? std::min(*next_timer, timer->expire_ms) : timer->expire_ms;
    return poll_timeout_ms(slirp_timeout_ms, next_timer, monotonic_ns() / 1'000'000,
                           m_last_activity_ms, m_quiet_after_ms);
}

void SlirpBackend::note_activity() {
    m_last_activity_ms = monotonic_ns() / 1'000'000;
}

void SlirpBackend::fire_expired_timers() {
    const std::int64_t now_ms = monotonic_ns() / 1'000'000;
    // Collected first: a handler may create, modify or free timers.
    std::vector<std::pair<SlirpTimerId, void*>> due;
    for (const auto& timer : m_timers) {
        if (timer->expire_ms < 0 || timer->expire_ms > now_ms) continue;
        timer->expire_ms = -1;
        due.emplace_back(timer->id, timer->callback_opaque);
    }
    for (auto [id, callback_opaque] : due)
        slirp_handle_timer(m_slirp, id, callback_opaque);
}

void SlirpBackend::input_pending_frames() {
    std::vector<EthernetFrame> frames;
    {
        std::lock_guard lock(m_outgoing_mutex);
        frames.swap(m_outgoing);
    }
    if (!frames.empty()) note_activity();
    for (const EthernetFrame& frame : frames)
        slirp_input(m_slirp, frame.data(), static_cast<int>(frame.size()));
}

ssize_t SlirpBackend::send_packet(const void* buffer, std::size_t length, void* opaque) {
    // SAFETY of the cast: libslirp hands back the opaque given to slirp_new, which is `this`.
    auto* backend = static_cast<SlirpBackend*>(opaque);
    backend->note_activity();
    backend->deliver({static_cast<const std::uint8_t*>(buffer), length});
    return static_cast<ssize_t>(length);
}

void SlirpBackend::guest_error(const char* message, void*) {
    log::warn("user network: guest error: {}", message);
}

std::int64_t SlirpBackend::clock_get_ns(void*) {
    return monotonic_ns();
}

void* SlirpBackend::timer_new_opaque(SlirpTimerId id, void* callback_opaque, void* opaque) {
    auto* backend = static_cast<SlirpBackend*>(opaque);
    backend->m_timers.push_back(std::make_unique<Timer>(Timer{id, callback_opaque, -1}));
    return backend->m_timers.back().get();
}

void SlirpBackend::timer_free(void* timer, void* opaque) {
    auto* backend = static_cast<SlirpBackend*>(opaque);
    std::erase_if(backend->m_timers, [timer](const auto& owned) { return owned.get() == timer; });
}

void SlirpBackend::timer_mod(void* timer, std::int64_t expire_ms, void*) {
    static_cast<Timer*>(timer)->expire_ms = expire_ms;
}

// Slirp's sockets are polled through slirp_pollfds_fill on every loop turn, so there is no
// separate registry to update.
void SlirpBackend::register_poll_fd(int, void*) {}
void SlirpBackend::unregister_poll_fd(int, void*) {}

void SlirpBackend::notify(void* opaque) {
    static_cast<SlirpBackend*>(opaque)->m_wake.signal();
}

int SlirpBackend::add_poll(int fd, int events, void* opaque) {
    auto* backend = static_cast<SlirpBackend*>(opaque);
    backend->m_poll_fds.push_back(pollfd{.fd = fd, .events = to_poll_events(events), .revents = 0});
    return static_cast<int>(backend->m_poll_fds.size() - 1);
}

int SlirpBackend::get_revents(int index, void* opaque) {
    auto* backend = static_cast<SlirpBackend*>(opaque);
    if (index < 0 || static_cast<std::size_t>(index) >= backend->m_poll_fds.size()) return 0;
    return to_slirp_events(backend->m_poll_fds[static_cast<std::size_t>(index)].revents);
}

} // namespace vessel
