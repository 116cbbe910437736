// Bus: routes guest port-I/O or MMIO accesses to the device registered for the address.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "devices/bus_device.hpp"

namespace vessel {

/// An address space of non-overlapping device windows. Built before vCPUs start, then
/// read-only, so lookups take no lock.
class Bus {
  public:
    explicit Bus(std::string_view name) : m_name(name) {}

    /// Registers device for [base, base+length); fails on overlap or empty/wrapping ranges.
    /// The device must outlive the bus.
    Result<void> insert(BusDevice& device, std::uint64_t base, std::uint64_t length);

    /// Dispatches a read; returns false (and fills data with 0xff) when nothing is mapped.
    bool read(std::uint64_t address, std::span<std::uint8_t> data) const;
    /// Dispatches a write; returns false (and drops it) when nothing is mapped.
    bool write(std::uint64_t address, std::span<const std::uint8_t> data) const;

    /// The device window containing address, or nullptr.
    BusDevice* find(std::uint64_t address, std::uint64_t* offset = nullptr) const;

  private:
    struct Window {
        std::uint64_t base;
        std::uint64_t length;
        BusDevice* device;
    };
    std::string m_name;
    std::vector<Window> m_windows; ///< sorted by base
};

} // namespace vessel
