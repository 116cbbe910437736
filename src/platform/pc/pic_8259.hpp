// Pic8259: the cascaded master/slave 8259A programmable interrupt controllers of a PC, with ELCR.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>

#include "base/state_archive.hpp"
#include "devices/bus_device.hpp"

namespace vessel {

/// The PC's two 8259A PICs (Intel 8259A datasheet, order 231468) as one device: the slave's
/// output is wired to master input 2. The guest reaches it through three port windows
/// (master 0x20-0x21, slave 0xa0-0xa1, ELCR 0x4d0-0x4d1 from the PIIX/ICH "edge/level control
/// registers"); the platform drives the 16 ISA lines and runs the interrupt-acknowledge cycle.
/// Thread-safe: device threads raise lines while a vCPU thread acknowledges.
class Pic8259 {
  public:
    static constexpr std::uint16_t master_base = 0x20;
    static constexpr std::uint16_t slave_base = 0xa0;
    static constexpr std::uint16_t elcr_base = 0x4d0;
    static constexpr std::uint64_t window_length = 2;
    static constexpr std::uint32_t line_count = 16;

    Pic8259();
    Pic8259(const Pic8259&) = delete;
    Pic8259& operator=(const Pic8259&) = delete;

    /// Port windows to insert on the I/O bus at master_base, slave_base and elcr_base.
    BusDevice& master_window() { return m_master_window; }
    BusDevice& slave_window() { return m_slave_window; }
    BusDevice& elcr_window() { return m_elcr_window; }

    /// Drives ISA line irq (0-15) to level. Edge-triggered lines latch a request on the rising
    /// edge; level-triggered ones (ELCR bit set) request while high. Out-of-range irq is ignored.
    void set_irq_level(std::uint32_t irq, bool level);
    /// True when the master's INT output is asserted (an unmasked request beats the in-service
    /// priority).
    bool has_interrupt() const;
    /// The INTA cycle: returns the vector and updates ISR/IRR. Returns the spurious vector
    /// (base + 7 of the chip concerned) when nothing is pending any more.
    std::uint8_t acknowledge();

    /// Snapshot state (platform/pc/pc_platform_snapshot.cpp): written with every vCPU parked,
    /// loaded before any runs. A reader error (or a value out of range) makes the restore
    /// discard the whole machine, so the chip is never run with what it loaded then.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    template <typename Archive> void persist(Archive& archive);
    /// The state of one 8259A.
    struct Chip {
        std::uint8_t last_level{0}; ///< input levels seen, for edge detection
        std::uint8_t irr{0};
        std::uint8_t imr{0};
        std::uint8_t isr{0};
        std::uint8_t priority_add{0}; ///< rotation: the line with highest priority
        std::uint8_t vector_base{0};
        std::uint8_t elcr{0};
        std::uint8_t elcr_mask{0};
        std::uint8_t init_state{0}; ///< 0 ready (OCW1 next), 1-3 expecting ICW2-ICW4
        bool read_isr{false};
        bool poll{false};
        bool special_mask{false};
        bool auto_eoi{false};
        bool rotate_on_auto_eoi{false};
        bool special_fully_nested{false};
        bool expect_icw4{false};
        bool single{false};
        bool is_master{false};

        void set_line(std::uint32_t line, bool level);
        int priority_of(std::uint8_t mask) const;
        int pending_line() const;
        void acknowledge_line(int line);
        void reset_for_icw1();
    };

    /// A 2-port window onto one chip, or the 2 ELCR bytes.
    class Window final : public BusDevice {
      public:
        enum class Kind { Master, Slave, Elcr };
        Window(Pic8259& pic, Kind kind) : m_pic(pic), m_kind(kind) {}
        std::string_view name() const override;
        void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
        void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

      private:
        Pic8259& m_pic;
        Kind m_kind;
    };

    std::uint8_t read_port(Chip& chip, std::uint64_t offset);
    void write_port(Chip& chip, std::uint64_t offset, std::uint8_t value);
    void write_command(Chip& chip, std::uint8_t value);
    void write_data(Chip& chip, std::uint8_t value);
    std::uint8_t poll_read(Chip& chip);
    /// Propagates the slave's output to master line 2.
    void update_cascade();

    /// The PIC mutex; releasing it republishes m_output, so has_interrupt() needs no lock (the
    /// vCPU asks before every block).
    class StateLock {
      public:
        explicit StateLock(Pic8259& pic) : m_pic(pic) { pic.m_mutex.lock(); }
        StateLock(const StateLock&) = delete;
        StateLock& operator=(const StateLock&) = delete;
        ~StateLock() {
            m_pic.m_output.store(m_pic.m_master.pending_line() >= 0, std::memory_order_release);
            m_pic.m_mutex.unlock();
        }

      private:
        Pic8259& m_pic;
    };

    std::mutex m_mutex;
    std::atomic<bool> m_output{false}; ///< the master's INT line as of the last unlock
    Chip m_master;
    Chip m_slave;
    Window m_master_window{*this, Window::Kind::Master};
    Window m_slave_window{*this, Window::Kind::Slave};
    Window m_elcr_window{*this, Window::Kind::Elcr};
};

} // namespace vessel
