// NetBackend: where a virtual NIC's Ethernet frames go to and come from on the host.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace vessel {

/// One Ethernet frame, without preamble or FCS.
using EthernetFrame = std::vector<std::uint8_t>;

/// A host-side network back-end. Each back-end runs its own I/O thread; received frames wait in a
/// bounded queue that the device drains with receive(). send(), receive(), set_link_up() and
/// set_receive_notifier() may be called from any thread.
class NetBackend {
  public:
    /// Frames kept for the device before new ones are dropped (the guest may have no buffers).
    static constexpr std::size_t max_queued_frames = 1024;
    /// The largest frame accepted in either direction (Ethernet header + 64 KiB payload).
    static constexpr std::size_t max_frame_size = 65536 + 14;

    virtual ~NetBackend() = default;

    /// Human name for logs ("user", "tap vessel0").
    virtual std::string_view name() const = 0;

    /// Sends one frame to the outside. Frames are dropped (as a cable would) while the link is
    /// down or when the frame is empty or larger than max_frame_size.
    void send(std::span<const std::uint8_t> frame);

    /// The oldest received frame not yet taken, if any.
    std::optional<EthernetFrame> receive();
    /// Whether receive() would return a frame.
    bool has_received_frames() const;

    /// Registers the function called (on the back-end's thread) after each queued frame; the
    /// device uses it to move frames into guest buffers. Pass an empty function to unregister;
    /// this waits for a running notifier to return, so do not call it while holding a lock the
    /// notifier takes.
    void set_receive_notifier(std::function<void()> notifier);

    bool link_up() const { return m_link_up.load(); }
    /// Link down drops frames in both directions and empties the receive queue.
    void set_link_up(bool up);

    /// Frames dropped because the receive queue was full or the link down (for tests and logs).
    std::uint64_t dropped_frames() const { return m_dropped_frames.load(); }

  protected:
    /// Hands one frame to the host side; called by send() when the link is up.
    virtual void transmit(std::span<const std::uint8_t> frame) = 0;
    /// Queues a frame that arrived from the host side; called by the back-end's thread.
    void deliver(std::span<const std::uint8_t> frame);

  private:
    mutable std::mutex m_mutex;
    std::deque<EthernetFrame> m_received;
    std::mutex m_notifier_mutex; // held while the notifier runs, so unregistering is safe
    std::function<void()> m_notifier;
    std::atomic<bool> m_link_up{true};
    std::atomic<std::uint64_t> m_dropped_frames{0};
};

} // namespace vessel
