// SlirpBackend: user-mode networking through libslirp (no root, no host setup), as QEMU's -net
// user.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <libslirp.h>
#include <poll.h>

#include "backends/net/host_forward.hpp"
#include "backends/net/net_backend.hpp"
#include "base/event_fd.hpp"
#include "base/result.hpp"

namespace vessel {

/// The user network's fixed layout (QEMU's defaults).
struct SlirpOptions {
    std::vector<HostForward> host_forwards;
    /// Refuse guest connections to the outside world (host forwards still work).
    bool restricted{false};
    /// How long the network must have been quiet (no frame either way, no socket event)
    /// before the back-end's thread sleeps with no timeout while libslirp has nothing timed.
    std::chrono::milliseconds quiet_after{5000};
};

/// A NAT'ed 10.0.2.0/24 network: gateway and host at 10.0.2.2, DNS at 10.0.2.3, DHCP from
/// 10.0.2.15. libslirp is not thread-safe, so every slirp call happens on this back-end's own
/// thread; frames from the device reach it through a queue and an eventfd.
class SlirpBackend final : public NetBackend {
  public:
    /// Starts the stack and its thread; fails when a host forward cannot listen.
    static Result<std::unique_ptr<SlirpBackend>> create(const SlirpOptions& options);
    ~SlirpBackend() override;

    std::string_view name() const override { return "user"; }

    /// The poll(2) timeout of one loop turn, in milliseconds, -1 for none. libslirp's own
    /// request (`slirp_timeout_ms`) is at most 1000 ms, and exactly that when it has nothing
    /// timed (no TCP socket, no expiring UDP/ICMP socket, no IP fragments); `next_timer_ms` is
    /// the earliest armed libslirp timer. An idle network sleeps until a frame or a socket
    /// event once it was quiet for `quiet_after_ms` (which covers libslirp's untimed leftovers,
    /// such as a frame held for at most 1 s while ARP resolves).
    static int poll_timeout_ms(std::uint32_t slirp_timeout_ms,
                               std::optional<std::int64_t> next_timer_ms, std::int64_t now_ms,
                               std::int64_t last_activity_ms, std::int64_t quiet_after_ms);
    /// Turns of the back-end's loop so far (each is a poll(2) return): an idle network adds
    /// none.
    std::uint64_t loop_turns() const { return m_loop_turns.load(std::memory_order_relaxed); }

  protected:
    void transmit(std::span<const std::uint8_t> frame) override;

  private:
    struct Timer;

    SlirpBackend() = default;
    Result<void> add_host_forward(const HostForward& forward);
    void run();
    int poll_timeout_ms(std::uint32_t slirp_timeout_ms) const;
    /// Notes traffic or a socket event now (the quiet period starts over).
    void note_activity();
    void fire_expired_timers();
    void input_pending_frames();

    // libslirp callbacks (opaque = this).
    static ssize_t send_packet(const void* buffer, std::size_t length, void* opaque);
    static void guest_error(const char* message, void* opaque);
    static std::int64_t clock_get_ns(void* opaque);
    static void* timer_new_opaque(SlirpTimerId id, void* callback_opaque, void* opaque);
    static void timer_free(void* timer, void* opaque);
    static void timer_mod(void* timer, std::int64_t expire_ms, void* opaque);
    static void register_poll_fd(int fd, void* opaque);
    static void unregister_poll_fd(int fd, void* opaque);
    static void notify(void* opaque);
    static int add_poll(int fd, int events, void* opaque);
    static int get_revents(int index, void* opaque);

    Slirp* m_slirp{nullptr};
    EventFd m_wake;
    std::atomic<bool> m_stopping{false};
    std::thread m_thread;

    std::mutex m_outgoing_mutex;
    std::vector<EthernetFrame> m_outgoing; // frames from the guest, waiting for the slirp thread

    // Owned by the slirp thread (or by create() before the thread starts).
    std::vector<std::unique_ptr<Timer>> m_timers;
    std::vector<pollfd> m_poll_fds;
    std::int64_t m_quiet_after_ms{5000};
    std::int64_t m_last_activity_ms{0};
    std::atomic<std::uint64_t> m_loop_turns{0};
};

} // namespace vessel
