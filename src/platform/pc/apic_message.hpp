// ApicMessage: one interrupt message on the APIC bus (IOAPIC redirection or inter-processor).
#pragma once

#include <cstdint>

namespace vessel {

/// What an IOAPIC redirection entry or a local APIC ICR sends to the local APICs
/// (Intel SDM Vol. 3A 11.6.1 "Interrupt Command Register", 82093AA datasheet 3.2.4).
struct ApicMessage {
    /// SDM 11.6.1 ICR bits 10:8 / 82093AA redirection entry bits 10:8.
    enum class DeliveryMode : std::uint8_t {
        Fixed = 0,
        LowestPriority = 1,
        Smi = 2,
        Nmi = 4,
        Init = 5,
        StartUp = 6,
        ExtInt = 7,
    };
    /// SDM 11.6.1 ICR bits 19:18 (IPIs only).
    enum class Shorthand : std::uint8_t {
        None = 0,
        Self = 1,
        AllIncludingSelf = 2,
        AllExcludingSelf = 3,
    };

    std::uint32_t destination{0};
    std::uint8_t vector{0};
    DeliveryMode delivery_mode{DeliveryMode::Fixed};
    bool logical_destination{false};
    bool level_triggered{false};
    bool assert_level{true}; ///< ICR bit 14; INIT with this clear is "INIT level de-assert"
    Shorthand shorthand{Shorthand::None};
    /// True for x2APIC ICR messages: 32-bit destination, broadcast 0xffffffff. False for
    /// IOAPIC and xAPIC messages: 8-bit destination, broadcast 0xff.
    bool wide_destination{false};
};

} // namespace vessel
