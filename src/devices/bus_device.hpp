// BusDevice: what every port-I/O or MMIO device implements to be reached through a Bus.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace vessel {

/// A device register window. Offsets are relative to the base the device was inserted at.
/// Calls may come from any vCPU thread; a device that keeps state locks it itself.
class BusDevice {
  public:
    virtual ~BusDevice() = default;
    /// Human name for logs ("uart 0x3f8").
    virtual std::string_view name() const = 0;
    /// Guest read of data.size() bytes (1, 2, 4 or 8) at offset; fill all of data.
    virtual void read(std::uint64_t offset, std::span<std::uint8_t> data) = 0;
    /// Guest write of data.size() bytes at offset.
    virtual void write(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
};

/// Little-endian helpers for devices that decode register values from a byte span.
inline std::uint64_t bytes_to_value(std::span<const std::uint8_t> data) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < data.size() && i < 8; ++i)
        value |= std::uint64_t{data[i]} << (8 * i);
    return value;
}
inline void value_to_bytes(std::uint64_t value, std::span<std::uint8_t> data) {
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = i < 8 ? static_cast<std::uint8_t>(value >> (8 * i)) : 0;
}

} // namespace vessel
