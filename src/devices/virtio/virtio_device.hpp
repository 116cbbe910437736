// VirtioDevice: what a virtio device (rng, blk, net) implements; it never sees the transport.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel {
class StateWriter;
class StateReader;
} // namespace vessel

namespace vessel::virtio {

class Virtqueue;

/// Device status bits (virtio 1.2 §2.1).
namespace status {
constexpr std::uint8_t acknowledge = 1;
constexpr std::uint8_t driver = 2;
constexpr std::uint8_t driver_ok = 4;
constexpr std::uint8_t features_ok = 8;
constexpr std::uint8_t device_needs_reset = 64;
constexpr std::uint8_t failed = 128;
} // namespace status

/// Reserved feature bits the transport and virtqueue own (virtio 1.2 §6).
namespace feature {
constexpr std::uint64_t ring_indirect_desc = std::uint64_t{1} << 28; ///< VIRTIO_F_INDIRECT_DESC
constexpr std::uint64_t ring_event_idx = std::uint64_t{1} << 29;     ///< VIRTIO_F_EVENT_IDX
constexpr std::uint64_t version_1 = std::uint64_t{1} << 32;          ///< VIRTIO_F_VERSION_1
} // namespace feature

/// How a device tells the driver about used buffers or a configuration change; the transport
/// picks MSI-X or INTx + ISR. Thread-safe: completions may come from a backend thread.
class VirtioInterrupt {
  public:
    virtual ~VirtioInterrupt() = default;
    /// Used-buffer notification for queue (call after Virtqueue::push when needs_interrupt()).
    virtual void signal_used(std::uint16_t queue) = 0;
    /// Configuration-change notification (device config space changed).
    virtual void signal_config() = 0;
};

/// What a device gets when the driver sets DRIVER_OK. Everything here stays valid until the
/// device's reset() returns.
struct VirtioActivation {
    GuestMemory& memory;
    /// One entry per queue_count(); nullptr for a queue the driver did not enable. Each
    /// Virtqueue locks itself; a broken queue (bad descriptors) pops nothing.
    std::vector<Virtqueue*> queues;
    std::uint64_t features; ///< negotiated: device bits plus the transport's reserved bits
    VirtioInterrupt& interrupt;
};

/// A virtio device behind any transport (PCI here; MMIO would fit the same interface).
///
/// Calls from the transport (config access, activate, queue_notify, reset) are serialized with
/// each other and come from vCPU threads, queue_notify also from the engine's I/O thread (KVM
/// ioeventfd), so a device must not assume which thread calls it. A device may complete requests on
/// its own threads, calling Virtqueue::push and VirtioInterrupt::signal_used there, but reset()
/// must not return before every such thread has stopped touching the queues and guest memory.
class VirtioDevice {
  public:
    virtual ~VirtioDevice() = default;

    /// For logs ("virtio-rng").
    virtual std::string_view name() const = 0;
    /// Device ID (virtio 1.2 §5: 1 net, 2 block, 4 entropy); PCI device ID is 0x1040 + it.
    virtual std::uint16_t device_type() const = 0;
    /// PCI class code to show (base << 16 | sub << 8 | prog-if); drivers match on IDs only.
    virtual std::uint32_t pci_class_code() const { return 0x00'ff'00; } // "unclassified"
    /// Device-specific feature bits offered (bits 0-23 and 50+; the transport adds its own).
    virtual std::uint64_t features() const = 0;

    virtual std::uint16_t queue_count() const = 0;
    /// Largest size the driver may give queue index (at most 32768).
    virtual std::uint16_t queue_max_size(std::uint16_t index) const = 0;

    /// Size of the device configuration structure (virtio 1.2 §5.x.4); at most 4096.
    virtual std::uint32_t config_size() const = 0;
    /// Driver access to the device configuration; offset + data.size() <= config_size().
    virtual void read_config(std::uint32_t offset, std::span<std::uint8_t> data) = 0;
    virtual void write_config(std::uint32_t offset, std::span<const std::uint8_t> data) = 0;

    /// The driver set DRIVER_OK after negotiating features. An error makes the transport set
    /// DEVICE_NEEDS_RESET.
    virtual Result<void> activate(const VirtioActivation& activation) = 0;
    /// The driver notified queue index (only after a successful activate).
    virtual void queue_notify(std::uint16_t index) = 0;
    /// The driver wrote 0 to device status: forget the activation and its queues.
    virtual void reset() = 0;

    // ---- snapshots (the VM is paused) ----

    /// Finishes requests in flight on the back-end, so no queue has a chain popped and not yet
    /// returned and nothing writes guest memory until the next notify.
    virtual void quiesce() {}
    /// Ends quiesce(): the device may take work from its back-end again (the VM resumes).
    virtual void resume_io() {}
    /// Why this device cannot be saved (e.g. host connections), or empty when it can.
    virtual std::string snapshot_obstacle() const { return {}; }
    /// Why a VM with this device cannot be live-migrated, or empty when it can.
    virtual std::string migration_obstacle() const { return snapshot_obstacle(); }
    /// The device's own state beyond the transport's registers and rings, appended to its
    /// `virtio.N` section (docs/SNAPSHOT_FORMAT.md). Most devices have none and write nothing.
    virtual void save_device_state(StateWriter&) {}
    /// Loads what save_device_state wrote, on a device built for a restore, before the
    /// transport activates it again; a value out of range fails the reader.
    virtual void load_device_state(StateReader&) {}
    /// Live migration, after quiesce(): lets go of host locks (disk images) the destination
    /// Vessel must take; retake_host_locks() undoes it when the migration failed.
    virtual void release_host_locks() {}
    virtual Result<void> retake_host_locks() { return {}; }
};

} // namespace vessel::virtio
