// Bounds-checked little-endian field reads from untrusted kernel image files.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

namespace vessel::x86 {

/// True when [offset, offset + length) lies inside a buffer of `size` bytes (no wrap-around).
inline bool range_in_bounds(std::uint64_t size, std::uint64_t offset, std::uint64_t length) {
    return offset <= size && length <= size - offset;
}

/// Reads a T stored little-endian at `offset`; nullopt when it does not fit in `bytes`.
/// memcpy keeps unaligned reads defined; the host is x86, so no byte swap is needed.
template <typename T>
std::optional<T> read_le(std::span<const std::uint8_t> bytes, std::uint64_t offset) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (!range_in_bounds(bytes.size(), offset, sizeof(T))) return std::nullopt;
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

/// Stores a T little-endian at `offset` of a buffer the caller sized to hold it.
template <typename T> void store_le(std::span<std::uint8_t> bytes, std::uint64_t offset, T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (!range_in_bounds(bytes.size(), offset, sizeof(T))) return;
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

} // namespace vessel::x86
