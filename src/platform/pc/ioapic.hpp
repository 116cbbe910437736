// IoApic: the I/O APIC at 0xfec00000 routing 24 interrupt pins to the local APICs.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"
#include "platform/pc/apic_message.hpp"

namespace vessel {

/// An 82093AA-style I/O APIC (Intel 82093AA datasheet, order 290566) with the version 0x20
/// EOI register of later chipsets (ICH, as KVM models). Each pin's redirection entry turns a
/// line level into an ApicMessage handed to the deliver callback, which the platform routes to
/// the local APICs. Level-triggered pins set remote IRR until an EOI for their vector.
/// Thread-safe; the callback runs with the IOAPIC locked and must not call back into it.
class IoApic final : public BusDevice {
  public:
    /// Returns true when at least one local APIC accepted the message.
    using Deliver = std::function<bool(const ApicMessage&)>;

    static constexpr std::uint64_t base = 0xfec00000;
    static constexpr std::uint64_t window_length = 0x1000;
    static constexpr std::uint32_t pin_count = 24;
    static constexpr std::uint32_t version = 0x20;

    explicit IoApic(Deliver deliver);

    std::string_view name() const override { return "ioapic"; }
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    /// Drives pin (0-23) to level (true = asserted, whatever the entry's polarity says).
    void set_pin_level(std::uint32_t pin, bool level);
    /// EOI broadcast from a local APIC for vector: ends remote IRR of level pins using it.
    void end_of_interrupt(std::uint8_t vector);

    /// Snapshot state (platform/pc/pc_platform_snapshot.cpp): written with every vCPU parked,
    /// loaded before any runs. A reader error (or a value out of range) makes the restore
    /// discard the whole machine, so the chip is never run with what it loaded then.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    template <typename Archive> void persist(Archive& archive);
    std::uint32_t read_register(std::uint32_t index) const;
    void write_register(std::uint32_t index, std::uint32_t value);
    void end_of_interrupt_locked(std::uint8_t vector);
    /// Sends pin's message if the entry and line state call for it.
    void service(std::uint32_t pin);

    mutable std::mutex m_mutex;
    Deliver m_deliver;
    std::uint32_t m_select{0};
    std::uint32_t m_id{0};
    std::uint32_t m_levels{0}; ///< asserted pins
    std::array<std::uint64_t, pin_count> m_redirection{};
};

} // namespace vessel
