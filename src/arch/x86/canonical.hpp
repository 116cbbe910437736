// Canonical addresses (Intel SDM Vol. 1, 3.3.7.1): with 48-bit linear addresses, bits 63:47
// all equal bit 47. Every base and target a 64-bit CPU accepts must be canonical.
#pragma once

#include <cstdint>

namespace vessel::x86 {

constexpr bool is_canonical(std::uint64_t address) {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(address << 16) >> 16) == address;
}

} // namespace vessel::x86
