// Pit8254: the 8254 programmable interval timer (ports 0x40-0x43) and system control port B (0x61).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>

#include "base/monotonic_clock.hpp"
#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"
#include "devices/interrupt_sink.hpp"

namespace vessel {

/// The PC's 8254 PIT (Intel 8254 datasheet, order 231164): three 16-bit down counters clocked at
/// 1.193182 MHz, derived from the injected monotonic clock rather than ticked. Channel 0's
/// output raises ISA IRQ 0 (one pulse per period, missed periods coalesced) when the owner calls
/// update(); channel 2's gate and output are reached through port 0x61 as on a PC/AT.
/// Channel 1 (DRAM refresh) counts but drives nothing. Thread-safe.
class Pit8254 {
  public:
    static constexpr std::uint16_t base = 0x40;
    static constexpr std::uint64_t window_length = 4;
    static constexpr std::uint16_t port_b = 0x61; ///< system control port B
    static constexpr std::uint64_t frequency_hz = 1'193'182;
    static constexpr std::uint32_t irq = 0;

    /// reprogrammed (optional) runs after a guest write that may move next_deadline(), so the
    /// owner can wake the CPU that sleeps until that deadline.
    Pit8254(IrqLine irq0, MonotonicClock clock, std::function<void()> reprogrammed = {});
    Pit8254(const Pit8254&) = delete;
    Pit8254& operator=(const Pit8254&) = delete;

    /// Insert at base (4 ports) and at port_b (1 port) on the I/O bus.
    BusDevice& counter_window() { return m_counter_window; }
    BusDevice& port_b_window() { return m_port_b_window; }

    /// When channel 0 next raises IRQ 0, on the clock's time line; nullopt when it will not.
    std::optional<std::uint64_t> next_deadline() const;
    /// Raises IRQ 0 once if channel 0's deadline has passed (however many periods were missed).
    void update(std::uint64_t now);

    /// Snapshot state (platform/pc/pc_platform_snapshot.cpp): written with every vCPU parked,
    /// loaded before any runs. A reader error (or a value out of range) makes the restore
    /// discard the whole machine, so the chip is never run with what it loaded then.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    template <typename Archive> void persist(Archive& archive);
    struct Channel {
        std::uint32_t count{0x10000}; ///< reload value; a written 0 means 65536 (10000 in BCD)
        std::uint8_t mode{0};
        std::uint8_t access{3}; ///< control word RW field: 1 LSB, 2 MSB, 3 LSB then MSB
        bool bcd{false};
        bool gate{true};
        bool loaded{false};           ///< a count was written after the control word
        bool null_count{true};        ///< read-back status bit 6
        bool running{false};          ///< the counting element advances with time
        bool awaiting_trigger{false}; ///< modes 1 and 5 before a gate rising edge
        std::uint64_t base_ns{0};
        std::uint64_t base_ticks{0}; ///< ticks elapsed since the load, as of base_ns
        std::uint8_t write_low_pending{0};
        bool write_high_next{false};
        bool read_high_next{false};
        std::uint16_t latched_count{0};
        std::uint8_t latched_bytes{0}; ///< how many latched count bytes remain (0 none)
        bool latched_high_next{false};
        std::optional<std::uint8_t> latched_status;
        std::optional<std::uint64_t> irq_tick; ///< elapsed tick of the next IRQ (channel 0)

        std::uint64_t elapsed(std::uint64_t now) const;
        std::uint32_t modulus() const { return bcd ? 10000 : 0x10000; }
        std::uint16_t current_count(std::uint64_t now) const;
        bool output(std::uint64_t now) const;
        std::optional<std::uint64_t> next_rising_edge(std::uint64_t elapsed_ticks) const;
    };

    class CounterWindow final : public BusDevice {
      public:
        explicit CounterWindow(Pit8254& pit) : m_pit(pit) {}
        std::string_view name() const override { return "pit 8254"; }
        void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
        void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

      private:
        Pit8254& m_pit;
    };
    class PortBWindow final : public BusDevice {
      public:
        explicit PortBWindow(Pit8254& pit) : m_pit(pit) {}
        std::string_view name() const override { return "system control port b"; }
        void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
        void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

      private:
        Pit8254& m_pit;
    };

    std::uint8_t read_counter(Channel& channel, std::uint64_t now);
    void write_counter(Channel& channel, std::uint8_t value, std::uint64_t now);
    void write_control(std::uint8_t value, std::uint64_t now);
    void read_back(std::uint8_t value, std::uint64_t now);
    void latch_count(Channel& channel, std::uint64_t now);
    void load_count(Channel& channel, std::uint32_t value, std::uint64_t now);
    void set_gate(Channel& channel, bool gate, std::uint64_t now);
    void rearm(Channel& channel, std::uint64_t now);
    std::uint8_t read_port_b(std::uint64_t now) const;
    void write_port_b(std::uint8_t value, std::uint64_t now);

    mutable std::mutex m_mutex;
    IrqLine m_irq;
    MonotonicClock m_clock;
    std::function<void()> m_reprogrammed;
    std::array<Channel, 3> m_channels{};
    std::uint8_t m_port_b{0}; ///< bits 0-3 as written
    CounterWindow m_counter_window{*this};
    PortBWindow m_port_b_window{*this};
};

} // namespace vessel
