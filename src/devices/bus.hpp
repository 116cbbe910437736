// Bus: routes guest port-I/O or MMIO accesses to the device registered for the address.
#pragma once

#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "devices/bus_device.hpp"

namespace vessel {

/// An address space of non-overlapping device windows. Most windows are registered before the
/// vCPUs start; PCI BARs come and go while the guest runs (memory decoding, BAR moves), so the
/// window list sits behind a reader/writer lock. Devices are called without the lock held, so
/// a device may change the bus from inside its own read/write.
class Bus {
  public:
    explicit Bus(std::string_view name) : m_name(name) {}

    /// Registers device for [base, base+length); fails on overlap or empty/wrapping ranges.
    /// The device must outlive the bus.
    Result<void> insert(BusDevice& device, std::uint64_t base, std::uint64_t length);

    /// Unregisters the window of device that starts at base; false when there is none.
    bool remove(BusDevice& device, std::uint64_t base);

    /// Dispatches a read; returns false (and fills data with 0xff) when nothing is mapped.
    bool read(std::uint64_t address, std::span<std::uint8_t> data) const;
    /// Dispatches a write; returns false (and drops it) when nothing is mapped.
    bool write(std::uint64_t address, std::span<const std::uint8_t> data) const;

    /// Guest accesses dispatched so far (mapped or not): on KVM each one is a VM exit, so these
    /// are the "exits by reason" of Firecracker's vcpu metrics on either engine.
    std::uint64_t read_count() const { return m_read_count.load(std::memory_order_relaxed); }
    std::uint64_t write_count() const { return m_write_count.load(std::memory_order_relaxed); }

    /// The device window containing address, or nullptr.
    BusDevice* find(std::uint64_t address, std::uint64_t* offset = nullptr) const;

  private:
    struct Window {
        std::uint64_t base;
        std::uint64_t length;
        BusDevice* device;
    };
    BusDevice* find_locked(std::uint64_t address, std::uint64_t* offset) const;

    std::string m_name;
    mutable std::shared_mutex m_mutex;
    std::vector<Window> m_windows; ///< sorted by base
    mutable std::atomic<std::uint64_t> m_read_count{0};
    mutable std::atomic<std::uint64_t> m_write_count{0};
};

} // namespace vessel
