// Virtqueue: a split virtqueue (virtio 1.2 §2.7) with every guest-supplied field validated.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/state_archive.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::virtio {

/// Descriptor flags and ring layout (virtio 1.2 §2.7.5, §2.7.6, §2.7.8).
namespace ring {
constexpr std::uint16_t descriptor_next = 1;       ///< VIRTQ_DESC_F_NEXT
constexpr std::uint16_t descriptor_write = 2;      ///< VIRTQ_DESC_F_WRITE (device writes)
constexpr std::uint16_t descriptor_indirect = 4;   ///< VIRTQ_DESC_F_INDIRECT
constexpr std::uint16_t avail_no_interrupt = 1;    ///< VIRTQ_AVAIL_F_NO_INTERRUPT
constexpr std::uint64_t descriptor_size = 16;      ///< le64 addr, le32 len, le16 flags, le16 next
constexpr std::uint64_t descriptor_alignment = 16; ///< §2.7 table 2.2
constexpr std::uint64_t avail_alignment = 2;
constexpr std::uint64_t used_alignment = 4;
constexpr std::uint16_t max_queue_size = 32768;
/// Vessel's bound on an indirect table (the spec leaves it open): 4096 descriptors, 64 KiB.
constexpr std::uint32_t max_indirect_descriptors = 4096;
} // namespace ring

/// One guest buffer of a descriptor chain, already checked to lie wholly inside guest RAM.
struct VirtqueueBuffer {
    std::uint64_t address;
    std::uint32_t length;
};

/// A popped request: the device reads `readable` (driver-to-device) and fills `writable`,
/// then pushes `head` back with the number of bytes written.
struct DescriptorChain {
    std::uint16_t head{0};
    std::vector<VirtqueueBuffer> readable;
    std::vector<VirtqueueBuffer> writable;
    std::uint64_t readable_bytes{0};
    std::uint64_t writable_bytes{0};
};

/// The driver programs size and ring addresses through the transport, then the transport
/// activates the queue. Any malformed ring or descriptor breaks the queue: the error callback
/// runs once (the transport sets DEVICE_NEEDS_RESET), nothing more is popped or pushed until
/// reset(), and no memory outside guest RAM is ever touched. Thread-safe.
class Virtqueue {
  public:
    /// Told once, with a description, when the queue breaks.
    using ErrorHandler = std::function<void(const std::string& problem)>;

    Virtqueue(std::uint16_t index, std::uint16_t max_size);

    std::uint16_t index() const { return m_index; }
    std::uint16_t max_size() const { return m_max_size; }

    // ---- driver setup through the transport (before activation) ----
    std::uint16_t size() const { return m_size; }
    /// Accepts powers of two up to max_size; other values are ignored (returns false).
    bool set_size(std::uint16_t size);
    std::uint64_t descriptor_address{0};
    std::uint64_t driver_address{0}; ///< available ring
    std::uint64_t device_address{0}; ///< used ring
    bool enabled{false};

    /// Checks the rings lie in RAM with the spec's alignment and binds the queue to memory.
    /// On failure the queue is broken (the handler runs) and the error is returned.
    Result<void> activate(GuestMemory& memory, bool indirect_descriptors, ErrorHandler on_error);
    /// Back to the power-on state (not enabled, size max_size, addresses 0, not broken).
    void reset();

    // ---- device side (after activation) ----
    /// The next available chain, or nothing when the ring is empty or the queue is broken.
    std::optional<DescriptorChain> pop();
    /// Returns chain head to the used ring with `written` bytes written; false if broken.
    bool push(std::uint16_t head, std::uint32_t written);
    /// Whether the driver wants an interrupt now (VIRTQ_AVAIL_F_NO_INTERRUPT clear).
    bool needs_interrupt() const;
    bool broken() const;

    // ---- snapshots ----
    /// Size, ring addresses, enabled, and the device's ring positions.
    void save_state(StateWriter& writer);
    /// Loads the driver setup; the next activate() starts the rings at the saved positions
    /// instead of 0.
    void load_state(StateReader& reader);

  private:
    struct Descriptor {
        std::uint64_t address;
        std::uint32_t length;
        std::uint16_t flags;
        std::uint16_t next;
    };
    static_assert(sizeof(Descriptor) == ring::descriptor_size);

    /// Marks the queue broken and reports problem once. Returns nothing (for pop).
    std::nullopt_t fail(std::string problem);
    Result<void> walk(std::uint16_t head, DescriptorChain& chain) const;
    Result<void> walk_indirect(const Descriptor& table, DescriptorChain& chain) const;
    Result<void> add_buffer(const Descriptor& descriptor, DescriptorChain& chain) const;

    const std::uint16_t m_index;
    const std::uint16_t m_max_size;
    std::uint16_t m_size;
    mutable std::mutex m_mutex;
    GuestMemory* m_memory{nullptr};
    bool m_active{false};
    bool m_broken{false};
    bool m_indirect{false};
    ErrorHandler m_on_error;
    std::uint16_t m_next_avail{0}; ///< device's position in the available ring
    std::uint16_t m_next_used{0};  ///< used ring idx the device publishes next
    // Host views of the validated rings (inside guest RAM for as long as memory lives).
    std::uint8_t* m_descriptors{nullptr};
    std::uint8_t* m_avail{nullptr};
    std::uint8_t* m_used{nullptr};
    std::uint64_t m_used_guest{0};       ///< guest address of the used ring, as activated
    std::uint16_t m_saved_next_avail{0}; ///< from a snapshot: where activate() starts
    std::uint16_t m_saved_next_used{0};
};

} // namespace vessel::virtio
