// MsiMessage: decodes a PCI MSI address/data pair into an APIC-bus interrupt message.
#pragma once

#include <cstdint>
#include <optional>

#include "platform/pc/apic_message.hpp"

namespace vessel {

/// Intel SDM Vol. 3A 11.11.1 "Message Address Register Format" and 11.11.2 "Message Data
/// Register Format".
namespace msi {
constexpr std::uint64_t address_base = 0xfee0'0000;         ///< bits 31:20 = 0xfee
constexpr std::uint64_t address_base_mask = 0xfff0'0000;    ///< 11.11.1
constexpr unsigned destination_shift = 12;                  ///< 11.11.1 bits 19:12: destination ID
constexpr std::uint64_t destination_mode_logical = 1u << 2; ///< 11.11.1 DM bit
constexpr std::uint32_t data_vector_mask = 0xff;            ///< 11.11.2 bits 7:0
constexpr unsigned data_delivery_mode_shift = 8;            ///< 11.11.2 bits 10:8
constexpr std::uint32_t data_level_assert = 1u << 14;       ///< 11.11.2 level bit
constexpr std::uint32_t data_trigger_level = 1u << 15;      ///< 11.11.2 trigger mode bit
} // namespace msi

/// The APIC message an MSI write means, or nothing when the address is outside the
/// 0xfeeXXXXX interrupt window or the delivery mode is reserved (such writes are dropped).
inline std::optional<ApicMessage> decode_msi(std::uint64_t address, std::uint32_t data) {
    if ((address & ~std::uint64_t{0xffff'ffff}) != 0 ||
        (address & msi::address_base_mask) != msi::address_base)
        return std::nullopt;
    const auto mode = (data >> msi::data_delivery_mode_shift) & 7;
    if (mode == 3 || mode == 6) return std::nullopt; // reserved in MSI (11.11.2)
    ApicMessage message;
    message.destination = static_cast<std::uint32_t>((address >> msi::destination_shift) & 0xff);
    message.vector = static_cast<std::uint8_t>(data & msi::data_vector_mask);
    message.delivery_mode = static_cast<ApicMessage::DeliveryMode>(mode);
    message.logical_destination = (address & msi::destination_mode_logical) != 0;
    message.level_triggered = (data & msi::data_trigger_level) != 0;
    message.assert_level = !message.level_triggered || (data & msi::data_level_assert) != 0;
    return message;
}

} // namespace vessel
