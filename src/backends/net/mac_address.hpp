// MacAddress: a 48-bit Ethernet address, parsed from and printed as "52:54:00:12:34:56".
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace vessel {

/// An Ethernet (IEEE 802) MAC address.
struct MacAddress {
    std::array<std::uint8_t, 6> bytes{};

    /// Parses six two-digit hex bytes separated by ':' ; rejects multicast addresses, which a NIC
    /// cannot own (bit 0 of the first byte, IEEE 802-2014 section 8.2).
    static Result<MacAddress> parse(std::string_view text);
    /// The default guest address: QEMU's locally administered 52:54:00:12:34:56.
    static MacAddress default_guest();

    std::string to_string() const;
    bool operator==(const MacAddress&) const = default;
};

} // namespace vessel
